#!/usr/bin/env bash
# `VVF_DEMO_CHECK=1 make demo`: what a new user's `make demo` does, unattended, so CI
# catches a broken first run. Serves the demo sample on a free port, fetches a range
# with curl, probes the file with ffprobe over HTTP, stops the server. Exit 0 only if
# every step worked.
set -euo pipefail
dir=${1:?usage: demo-check.sh DIR}
# The command to run vvf with (word-split): the built one; tests pass `node --import tsx src/cli/main.ts`.
read -r -a vvf <<<"${VVF_CLI:-node dist/cli/main.js}"
log=$(mktemp)
pid=
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -f "$log"
}
trap cleanup EXIT
fail() {
  echo "demo check FAILED: $*" >&2
  sed 's/^/  server: /' "$log" >&2 || true
  exit 1
}

# Port 0: the kernel picks a free port, and the server prints the URL it got.
"${vvf[@]}" serve --root "$dir" --host 127.0.0.1 --port 0 --store none --register "$dir/progressive.json" \
  >/dev/null 2>"$log" &
pid=$!
url=
for _ in $(seq 1 300); do
  url=$(sed -n 's/^vvf: .* is served as \(http[^ ]*\) .*/\1/p' "$log" | head -n 1)
  [ -n "$url" ] && break
  kill -0 "$pid" 2>/dev/null || fail "the server exited before serving"
  # An error (`vvf: CODE: …`) may leave the listener up: do not wait out the timeout.
  grep -qE '^vvf: ([A-Z_]+:|internal error)' "$log" && fail "the server reported an error"
  sleep 0.1
done
[ -n "$url" ] || fail "the server did not register the recipe within 30 s"
echo "demo check: serving $url"

# The probe players make first: an exact two-byte 206.
status=$(curl -sS -o /dev/null -w '%{http_code} %{size_download}' -H 'Range: bytes=0-1' "$url") || fail "curl failed"
[ "$status" = "206 2" ] || fail "Range: bytes=0-1 gave '$status', expected '206 2'"
# The first box of the file is its ftyp.
head=$(curl -sS -H 'Range: bytes=4-7' "$url") || fail "curl failed"
[ "$head" = "ftyp" ] || fail "bytes 4-7 are '$head', expected 'ftyp'"
echo "demo check: curl range ok"

streams=$(ffprobe -v error -show_entries stream=codec_name -of csv=p=0 "$url") || fail "ffprobe over HTTP failed"
streams=$(echo "$streams" | sort | tr '\n' ' ')
[ "$streams" = "aac h264 " ] || fail "ffprobe found streams '$streams', expected aac and h264"
# Every packet readable over HTTP, not only the header.
ffmpeg -v error -i "$url" -map 0 -c copy -f null - || fail "ffmpeg could not read every packet over HTTP"
echo "demo check: ffprobe over HTTP ok ($streams)"

kill "$pid"
wait "$pid" || true
pid=
echo "demo check: ok"
