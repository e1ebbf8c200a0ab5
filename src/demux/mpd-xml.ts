// DASH MPD as XML: well-formedness check, parse into plain element nodes, and typed access to them.
import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { VvfError } from '../errors.js';

/** One parsed XML element: attributes under `@_name`, child elements as arrays, text under `#text`. */
export type XmlNode = { readonly [key: string]: unknown };

const parser = new XMLParser({
  ignoreAttributes: false,
  attributeNamePrefix: '@_',
  // Keep every value a string: we validate numbers ourselves, and a BaseURL of "1" must stay text.
  parseTagValue: false,
  parseAttributeValue: false,
  // MPDs may be written with a prefix (<mpd:MPD>); xlink:href becomes @_href.
  removeNSPrefix: true,
  ignoreDeclaration: true,
  ignorePiTags: true,
  // Every element an array, so one and many look the same.
  isArray: (_name: string, _path: unknown, _leaf: boolean, isAttribute: boolean) => !isAttribute,
  // Callbacks get a matcher instead of a joined path string: faster on large manifests.
  jPath: false,
});

/**
 * Parses MPD text into its root `MPD` element. Malformed XML → MANIFEST_INVALID;
 * well-formed XML whose root is not an MPD → UNKNOWN_FORMAT.
 */
export function parseMpdXml(xml: string, source: string): XmlNode {
  // The parser itself is lenient (it closes unclosed tags), so check well-formedness first.
  const valid = XMLValidator.validate(xml);
  if (valid !== true) {
    const { msg, line, col } = valid.err;
    throw new VvfError('MANIFEST_INVALID', `malformed XML: ${msg} (line ${line}${col !== undefined ? `, column ${col}` : ''})`, {
      source,
    });
  }
  let doc: unknown;
  try {
    doc = parser.parse(xml);
  } catch (e) {
    throw new VvfError(
      'MANIFEST_INVALID',
      `malformed XML: ${e instanceof Error ? e.message : String(e)}`,
      { source },
      { cause: e },
    );
  }
  const root = isNode(doc) ? children(doc, 'MPD')[0] : undefined;
  if (root === undefined) throw new VvfError('UNKNOWN_FORMAT', 'the XML root element is not MPD', { source });
  return root;
}

function isNode(v: unknown): v is XmlNode {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The child elements named `name`, in document order. */
export function children(node: XmlNode, name: string): XmlNode[] {
  if (!Object.hasOwn(node, name)) return [];
  const v = node[name];
  const list = Array.isArray(v) ? v : [v];
  const out: XmlNode[] = [];
  for (const item of list) {
    // Empty or text-only elements come back as strings.
    if (typeof item === 'string') out.push({ '#text': item });
    else if (isNode(item)) out.push(item);
  }
  return out;
}

/** The first child element named `name`. */
export function child(node: XmlNode, name: string): XmlNode | undefined {
  return children(node, name)[0];
}

/** An attribute's value, or undefined when absent. */
export function attr(node: XmlNode, name: string): string | undefined {
  const key = `@_${name}`;
  if (!Object.hasOwn(node, key)) return undefined;
  const v = node[key];
  return typeof v === 'string' ? v : undefined;
}

/** The element's text content, trimmed. */
export function text(node: XmlNode): string {
  const v = Object.hasOwn(node, '#text') ? node['#text'] : undefined;
  return typeof v === 'string' ? v.trim() : '';
}
