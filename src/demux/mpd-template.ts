// DASH SegmentTemplate URL templates: $RepresentationID$, $Number$, $Time$, $Bandwidth$, $$ and %0<width>d formats.
import { invalid, type MpdLocation } from './mpd-values.js';

type Identifier = 'RepresentationID' | 'Number' | 'Time' | 'Bandwidth';
type Part = string | { id: Identifier; width: number };

/** The values a template is filled with for one segment. */
export interface TemplateValues {
  representationId: string;
  bandwidth: number;
  number?: number;
  time?: number;
}

// Widths beyond this would only serve to make huge strings.
const MAX_WIDTH = 32;
const IDENTIFIER = /^(RepresentationID|Number|Time|Bandwidth)(?:%0?(\d{1,3})d)?$/;

/** A template parsed once, expanded per segment. */
export class UrlTemplate {
  private readonly parts: Part[];
  /** Whether the template uses $Number$ or $Time$ (and so differs per segment). */
  readonly perSegment: boolean;

  constructor(template: string, at: MpdLocation) {
    this.parts = [];
    let literal = '';
    let i = 0;
    while (i < template.length) {
      const open = template.indexOf('$', i);
      if (open < 0) {
        literal += template.slice(i);
        break;
      }
      literal += template.slice(i, open);
      const close = template.indexOf('$', open + 1);
      if (close < 0) throw invalid(`unterminated $ in template ${JSON.stringify(template)}`, at);
      const inner = template.slice(open + 1, close);
      i = close + 1;
      if (inner === '') {
        literal += '$';
        continue;
      }
      const m = IDENTIFIER.exec(inner);
      if (m === null) throw invalid(`unknown template identifier $${inner}$`, at);
      const id = m[1] as Identifier;
      const width = m[2] === undefined ? 0 : Number(m[2]);
      if (width > MAX_WIDTH) throw invalid(`template width ${width} is too large`, at);
      if (literal !== '') this.parts.push(literal);
      literal = '';
      this.parts.push({ id, width });
    }
    if (literal !== '') this.parts.push(literal);
    this.perSegment = this.parts.some((p) => typeof p !== 'string' && (p.id === 'Number' || p.id === 'Time'));
  }

  /** The template with the identifiers replaced; undefined values are a manifest error. */
  expand(v: TemplateValues, at: MpdLocation): string {
    let out = '';
    for (const p of this.parts) {
      if (typeof p === 'string') {
        out += p;
        continue;
      }
      if (p.id === 'RepresentationID') {
        // The format tag is not allowed on $RepresentationID$; ignore a stray one.
        out += v.representationId;
        continue;
      }
      const n = p.id === 'Number' ? v.number : p.id === 'Time' ? v.time : v.bandwidth;
      if (n === undefined) throw invalid(`$${p.id}$ cannot be used here`, at);
      const s = String(n);
      out += s.length < p.width ? s.padStart(p.width, '0') : s;
    }
    return out;
  }
}
