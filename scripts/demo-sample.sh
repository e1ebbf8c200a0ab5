#!/usr/bin/env bash
# Makes the demo's sample once: a 10-second H.264 + AAC clip packaged as DASH by ffmpeg
# (SegmentTemplate, 2-second segments, one representation per stream).
set -euo pipefail
dir=${1:?usage: demo-sample.sh DIR}
if [ -f "$dir/dash/manifest.mpd" ] && [ -f "$dir/progressive.json" ]; then exit 0; fi
# The temporary directory sits next to DIR (so the final mv is a rename): its parent
# (.cache/ on a fresh clone) must exist first.
mkdir -p "$(dirname "$dir")"
tmp=$(mktemp -d "${dir%/}.tmp.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/dash"
ffmpeg -hide_banner -loglevel error -y \
  -f lavfi -i "testsrc2=size=640x360:rate=30" -f lavfi -i "sine=frequency=440:sample_rate=48000" -t 10 \
  -c:v libx264 -preset veryfast -profile:v high -bf 2 -g 60 -pix_fmt yuv420p -c:a aac -b:a 128k "$tmp/clip.mp4"
ffmpeg -hide_banner -loglevel error -y -i "$tmp/clip.mp4" -map 0 -c copy \
  -f dash -seg_duration 2 -use_template 1 -use_timeline 1 "$tmp/dash/manifest.mpd"
# The recipe the demo serves: the DASH pair as one progressive MP4.
cat > "$tmp/progressive.json" <<'JSON'
{ "tracks": [ { "source": "dash/manifest.mpd", "kind": "video" },
              { "source": "dash/manifest.mpd", "kind": "audio" } ] }
JSON
rm -rf "$dir"
mv "$tmp" "$dir"
trap - EXIT
echo "made the demo sample in $dir"
