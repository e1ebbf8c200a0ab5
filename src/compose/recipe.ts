import { VvfError } from '../errors.js';

/**
 * What a user asks for, as JSON. A recipe is a list of pieces played one after another;
 * each piece takes tracks from sources and optionally keeps only a time range.
 * The layout says what is made of them: one progressive MP4, or a fragmented presentation
 * (`dash`, `hls`, or `cmaf` for both) whose every track is a rendition.
 *
 * ```json
 * { "layout": "progressive",
 *   "pieces": [
 *     { "tracks": [ { "source": "video.mpd", "kind": "video" },
 *                   { "source": "audio.mp4", "kind": "audio" } ],
 *       "start": 10, "end": 20 } ] }
 * ```
 * A recipe with one piece may put `tracks`, `start` and `end` at the top level.
 */
export interface Recipe {
  /**
   * Output layout: `progressive` (ftyp, moov, one mdat), or a fragmented presentation
   * with one rendition per track — `dash` (MPDs), `hls` (playlists), `cmaf` (both, over
   * the same segments).
   */
  layout: RecipeLayout;
  pieces: RecipePiece[];
  /** Fragmented layouts: target segment duration in seconds (default 4). */
  segment?: TimeValue;
  /**
   * More tracks played at the same time as `pieces`, each part a sequence of pieces of its
   * own: a concatenation of video chunks with one whole audio track beside it, or a new
   * audio for an edited video. The output has the tracks of `pieces`, then each part's.
   */
  alongside?: RecipePart[];
  /** What to call the file where faces show names (the mount's file name, listings); part of the id. */
  name?: string;
}

/** The layouts a recipe may ask for. */
export type RecipeLayout = 'progressive' | 'dash' | 'hls' | 'cmaf';

const LAYOUTS: readonly RecipeLayout[] = ['progressive', 'dash', 'hls', 'cmaf'];

/** Whether a recipe makes a fragmented presentation rather than one progressive file. */
export function isPresentation(recipe: Recipe): recipe is Recipe & { layout: 'dash' | 'hls' | 'cmaf' } {
  return recipe.layout !== 'progressive';
}

/** Tracks of a recipe that run alongside its pieces: pieces of their own. */
export interface RecipePart {
  pieces: RecipePiece[];
}

/** Every sequence of pieces of a recipe: its own, then each part's alongside. */
export function recipeSequences(recipe: Recipe): RecipePiece[][] {
  return [recipe.pieces, ...(recipe.alongside ?? []).map((p) => p.pieces)];
}

/** Longest `name` a recipe may give. */
export const MAX_RECIPE_NAME = 100;

export interface RecipePiece {
  tracks: TrackRef[];
  /** Presentation time to start at (default: the beginning). */
  start?: TimeValue;
  /** Presentation time to end before (default: the end). */
  end?: TimeValue;
}

/**
 * Seconds: a number, a decimal string ("12.5"), or an exact fraction ("1001/30000"),
 * which lets a time on a track's own grid be said exactly.
 */
export type TimeValue = number | string;

/** A time as an exact fraction of seconds. */
export function timeFraction(v: TimeValue): { num: bigint; den: bigint } {
  if (typeof v === 'number') {
    // Finite decimals as written: 0.1 is 1/10, not the nearest double.
    return timeFraction(String(v));
  }
  const frac = /^(\d+)\/(\d+)$/.exec(v);
  if (frac) return { num: BigInt(frac[1]!), den: BigInt(frac[2]!) };
  const dec = /^(\d+)(?:\.(\d+))?$/.exec(v);
  if (!dec) throw new VvfError('USAGE', `invalid time "${v}"`);
  const decimals = dec[2] ?? '';
  return { num: BigInt(dec[1]! + decimals), den: 10n ** BigInt(decimals.length) };
}

/** A time in ticks of `timescale`, rounded to the nearest tick. */
export function timeToTicks(v: TimeValue, timescale: number): number {
  const { num, den } = timeFraction(v);
  const scaled = num * BigInt(timescale);
  return Number((2n * scaled + den) / (2n * den));
}

/**
 * Tracks of one source. `source` is a path, a URL, or a DASH manifest; with
 * `representation` only that representation of a manifest. `track` picks a track id,
 * `kind` the best track of a kind (the highest bitrate); neither: every track.
 */
export interface TrackRef {
  source: string;
  representation?: string;
  track?: number;
  kind?: 'video' | 'audio' | 'text';
}

const KINDS = new Set(['video', 'audio', 'text']);

function fail(detail: string): never {
  throw new VvfError('USAGE', `invalid recipe: ${detail}`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkKeys(o: Record<string, unknown>, allowed: string[], where: string): void {
  for (const k of Object.keys(o)) if (!allowed.includes(k)) fail(`${where}: unknown field "${k}"`);
}

function seconds(v: unknown, where: string): TimeValue | undefined {
  if (v === undefined) return undefined;
  const ok =
    (typeof v === 'number' && Number.isFinite(v) && v >= 0 && !/e/i.test(String(v))) ||
    (typeof v === 'string' && /^(\d+(\.\d+)?|\d+\/[1-9]\d*)$/.test(v));
  if (!ok) fail(`${where} must be seconds: a non-negative number, "12.5" or "1001/30000"`);
  return v as TimeValue;
}

function trackRef(v: unknown, where: string): TrackRef {
  if (typeof v === 'string') return { source: v };
  if (!isObject(v)) fail(`${where} must be an object or a source string`);
  checkKeys(v, ['source', 'representation', 'track', 'kind'], where);
  if (typeof v.source !== 'string' || v.source === '') fail(`${where}.source must be a path or URL`);
  const ref: TrackRef = { source: v.source };
  if (v.representation !== undefined) {
    if (typeof v.representation !== 'string') fail(`${where}.representation must be a string`);
    ref.representation = v.representation;
  }
  if (v.track !== undefined) {
    if (typeof v.track !== 'number' || !Number.isInteger(v.track) || v.track < 1) fail(`${where}.track must be a track id`);
    ref.track = v.track;
  }
  if (v.kind !== undefined) {
    if (typeof v.kind !== 'string' || !KINDS.has(v.kind)) fail(`${where}.kind must be video, audio or text`);
    ref.kind = v.kind as TrackRef['kind'];
  }
  if (ref.track !== undefined && ref.kind !== undefined) fail(`${where}: give track or kind, not both`);
  return ref;
}

function piece(v: unknown, where: string): RecipePiece {
  if (!isObject(v)) fail(`${where} must be an object`);
  checkKeys(v, ['tracks', 'start', 'end'], where);
  if (!Array.isArray(v.tracks) || v.tracks.length === 0) fail(`${where}.tracks must list at least one track`);
  const p: RecipePiece = { tracks: v.tracks.map((t, i) => trackRef(t, `${where}.tracks[${i}]`)) };
  const start = seconds(v.start, `${where}.start`);
  const end = seconds(v.end, `${where}.end`);
  if (start !== undefined) p.start = start;
  if (end !== undefined) p.end = end;
  if (start !== undefined && end !== undefined) {
    const a = timeFraction(start);
    const b = timeFraction(end);
    if (b.num * a.den <= a.num * b.den) fail(`${where}: end must be after start`);
  }
  return p;
}

/** Checks a parsed JSON value and returns it as a Recipe; USAGE errors say what is wrong. */
export function parseRecipe(json: unknown): Recipe {
  if (!isObject(json)) fail('a recipe is a JSON object');
  checkKeys(json, ['layout', 'pieces', 'tracks', 'start', 'end', 'name', 'segment', 'alongside'], 'recipe');
  const layout = (json.layout ?? 'progressive') as RecipeLayout;
  if (!LAYOUTS.includes(layout)) fail(`layout "${String(layout)}" is not supported (${LAYOUTS.join(', ')})`);
  const named: { name?: string; segment?: TimeValue } = {};
  if (json.segment !== undefined) {
    if (layout === 'progressive') fail('segment applies to the dash, hls and cmaf layouts, not progressive');
    const segment = seconds(json.segment, 'segment') as TimeValue;
    const { num } = timeFraction(segment);
    if (num === 0n) fail('segment must be longer than 0 s');
    named.segment = segment;
  }
  if (json.name !== undefined) {
    if (typeof json.name !== 'string' || json.name.trim() === '' || json.name.length > MAX_RECIPE_NAME)
      fail(`name must be a non-empty string of at most ${MAX_RECIPE_NAME} characters`);
    named.name = json.name;
  }
  const parts: { alongside?: RecipePart[] } = {};
  if (json.alongside !== undefined) {
    if (!Array.isArray(json.alongside) || json.alongside.length === 0) fail('alongside must list at least one part');
    parts.alongside = json.alongside.map((p, i) => {
      if (!isObject(p)) fail(`alongside[${i}] must be an object`);
      checkKeys(p, ['pieces', 'tracks', 'start', 'end'], `alongside[${i}]`);
      return { pieces: piecesOf(p, `alongside[${i}]`) };
    });
  }
  return { layout, pieces: piecesOf(json, 'recipe'), ...named, ...parts };
}

/** The pieces of a recipe or of a part alongside: `pieces`, or one piece of `tracks`, `start` and `end`. */
function piecesOf(o: Record<string, unknown>, where: string): RecipePiece[] {
  if (o.pieces !== undefined) {
    if (o.tracks !== undefined || o.start !== undefined || o.end !== undefined) {
      fail(`${where === 'recipe' ? '' : `${where}: `}give pieces, or tracks/start/end for a single piece, not both`);
    }
    const prefix = where === 'recipe' ? '' : `${where}.`;
    if (!Array.isArray(o.pieces) || o.pieces.length === 0) fail(`${prefix}pieces must list at least one piece`);
    return o.pieces.map((p, i) => piece(p, `${prefix}pieces[${i}]`));
  }
  return [piece({ tracks: o.tracks, start: o.start, end: o.end }, where)];
}

/** Resolves every relative local source path of a recipe against `baseDir`. */
export function resolveRecipePaths(recipe: Recipe, resolvePath: (p: string) => string): Recipe {
  const isUrl = (s: string) => /^[a-z][a-z0-9+.-]*:\/\//i.test(s);
  const resolvePieces = (pieces: RecipePiece[]): RecipePiece[] =>
    pieces.map((p) => ({
      ...p,
      tracks: p.tracks.map((t) => (isUrl(t.source) ? t : { ...t, source: resolvePath(t.source) })),
    }));
  return {
    ...recipe,
    pieces: resolvePieces(recipe.pieces),
    ...(recipe.alongside ? { alongside: recipe.alongside.map((a) => ({ pieces: resolvePieces(a.pieces) })) } : {}),
  };
}
