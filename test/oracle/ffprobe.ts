// The reference for "the same media": the packets ffprobe reads from a file, per stream.
import { type ExecFileException, execFile } from 'node:child_process';
import { promisify } from 'node:util';

const execFileP = promisify(execFile);

/** One packet as ffprobe reports it; times are integers in the stream's time base. */
export interface ProbePacket {
  /** NaN when ffprobe gives none. */
  pts: number;
  /** NaN when ffprobe gives none. */
  dts: number;
  /** NaN when ffprobe gives none (ffmpeg leaves it out e.g. for the first AAC packet of some fragmented files). */
  duration: number;
  size: number;
  key: boolean;
  /** Byte offset of the packet in the file; NaN when unknown. */
  pos: number;
}

/** One stream and all its packets in the order ffprobe read them (decode order). */
export interface ProbeStream {
  index: number;
  /** Track id, parsed from ffprobe's hexadecimal "0x1"; NaN when ffprobe gives none. */
  id: number;
  codecType: string;
  codecName: string;
  timeBase: [number, number];
  packets: ProbePacket[];
  /** How many packets came without a pts or a dts (those fields are NaN). */
  missingTimestamps: number;
}

/** Options of probePackets. */
export interface ProbeOptions {
  /** Pass `-ignore_editlist 1`: raw media times, as the sample tables hold them. */
  ignoreEditlist?: boolean;
}

interface RawStream {
  index?: unknown;
  id?: unknown;
  codec_type?: unknown;
  codec_name?: unknown;
  time_base?: unknown;
}

interface RawPacket {
  stream_index?: unknown;
  pts?: unknown;
  dts?: unknown;
  duration?: unknown;
  size?: unknown;
  pos?: unknown;
  flags?: unknown;
}

/** An integer from ffprobe's JSON (numbers, or strings for size and pos); NaN when absent. */
function integer(value: unknown): number {
  if (typeof value === 'number') return Number.isSafeInteger(value) ? value : Number.NaN;
  if (typeof value === 'string' && /^-?\d+$/.test(value)) {
    const n = Number(value);
    return Number.isSafeInteger(n) ? n : Number.NaN;
  }
  return Number.NaN;
}

function timeBase(value: unknown, file: string): [number, number] {
  const m = typeof value === 'string' ? /^(\d+)\/(\d+)$/.exec(value) : null;
  if (!m) throw new Error(`ffprobe ${file}: bad time_base ${String(value)}`);
  return [Number(m[1]), Number(m[2])];
}

/**
 * Every stream of `file` with its packets, read by
 * `ffprobe -v error [-ignore_editlist 1] -show_streams -show_packets -of json file`.
 */
export async function probePackets(file: string, opts: ProbeOptions = {}): Promise<ProbeStream[]> {
  const args = ['-v', 'error'];
  if (opts.ignoreEditlist) args.push('-ignore_editlist', '1');
  args.push('-show_streams', '-show_packets', '-of', 'json', file);
  let stdout: string;
  try {
    ({ stdout } = await execFileP('ffprobe', args, { maxBuffer: 1024 * 1024 * 1024 }));
  } catch (e) {
    const err = e as ExecFileException & { stderr?: string };
    throw new Error(`ffprobe ${args.join(' ')} failed (${err.code ?? err.signal}): ${(err.stderr ?? '').trim() || err.message}`);
  }
  const parsed = JSON.parse(stdout) as { streams?: RawStream[]; packets?: RawPacket[] };
  const streams: ProbeStream[] = (parsed.streams ?? []).map((s) => {
    const index = integer(s.index);
    if (Number.isNaN(index)) throw new Error(`ffprobe ${file}: stream without index`);
    const id = typeof s.id === 'string' && /^0x[0-9a-f]+$/i.test(s.id) ? Number.parseInt(s.id, 16) : Number.NaN;
    return {
      index,
      id,
      codecType: String(s.codec_type ?? ''),
      codecName: String(s.codec_name ?? ''),
      timeBase: timeBase(s.time_base, file),
      packets: [],
      missingTimestamps: 0,
    };
  });
  const byIndex = new Map(streams.map((s) => [s.index, s]));
  for (const p of parsed.packets ?? []) {
    const stream = byIndex.get(integer(p.stream_index));
    if (!stream) throw new Error(`ffprobe ${file}: packet of unknown stream ${String(p.stream_index)}`);
    const packet: ProbePacket = {
      pts: integer(p.pts),
      dts: integer(p.dts),
      duration: integer(p.duration),
      size: integer(p.size),
      key: typeof p.flags === 'string' && p.flags.startsWith('K'),
      pos: integer(p.pos),
    };
    if (Number.isNaN(packet.pts) || Number.isNaN(packet.dts)) stream.missingTimestamps++;
    stream.packets.push(packet);
  }
  return streams;
}
