import { isAscii, isUtf8 } from 'node:buffer';
import { BottleneckError, type CellLocation, createError } from '../errors/index.js';
import type { ZipEntry } from './zip.js';
import type { CpuBudget } from '../workers/cpu-budget.js';
import { XmlScanner } from './xml-scanner.js';

/** Namespace URIs of the parts the reader reads, transitional and strict (ISO 29500) spellings. */
export const NS = {
  main: 'http://schemas.openxmlformats.org/spreadsheetml/2006/main',
  mainStrict: 'http://purl.oclc.org/ooxml/spreadsheetml/main',
  rel: 'http://schemas.openxmlformats.org/officeDocument/2006/relationships',
  relStrict: 'http://purl.oclc.org/ooxml/officeDocument/relationships',
  pkgRel: 'http://schemas.openxmlformats.org/package/2006/relationships',
  xml: 'http://www.w3.org/XML/1998/namespace',
} as const;

/** SpreadsheetML's main namespace, whichever spelling the writer used. */
export const isMain = (uri: string): boolean => uri === NS.main || uri === NS.mainStrict;

/** An element's attributes by name as written (prefixed ones with their prefix: resolve them with NamespaceScope). */
export type Attributes = Readonly<Record<string, string>>;

/**
 * What a part's parse calls back. `classify` turns an element's namespace URI and local name into
 * a small number the handler switches on; it is called once per distinct tag name and scope, and
 * cached, so matching on URI + local name costs one map lookup per element.
 */
export interface XmlHandler {
  classify(uri: string, local: string): number;
  open(kind: number, attrs: Attributes, scope: NamespaceScope): void;
  close(kind: number): void;
  text(text: string): void;
  /** Set to stop the parse (a header read, the sheet data closed). */
  done: boolean;
  /** For errors: the Excel row the parse is in, or 0. */
  row(): number;
  /**
   * A worksheet cell written the usual way, `<c r=".." s=".." t=".."><v>text</v></c>` or
   * `<c .../>`, in one call: what open and close of the c and v elements and the v's text would
   * do, as they would do it. Offered (with `cellKinds`, the kinds of c and v) only where c and v
   * are of those kinds; any other cell comes through open, text and close.
   */
  cell?(r: string | undefined, s: string | undefined, t: string | undefined, v: string | undefined): void;
  cellKinds?: readonly [c: number, v: number];
  /**
   * A shared string written the usual way, `<si><t>text</t></si>` right under the root, in one
   * call: what open and close of si and t and the t's text would do. Offered (with
   * `sharedStringKinds`, the kinds of si and t) only where si and t are of those kinds.
   */
  sharedString?(text: string): void;
  sharedStringKinds?: readonly [si: number, t: number];
}

/** The bounds of one part's parse. */
export interface XmlBounds {
  /**
   * The read's time limit (BN_MAX_READ_MS), in CPU time of the thread reading it (every pass of one
   * workbook shares it): once spent, the parse stops with BN_ERR_INPUT_TOO_LARGE.
   */
  budget: CpuBudget;
  /** Longest text a cell may hold, characters: a text run with no markup much longer than this is refused. */
  maxCellChars: number;
  /** What the errors name: the file (erp.xlsx), and the sheet when a sheet is read. */
  file: string;
  sheet?: string;
  /** What the time limit is called in its message. */
  timeLimitMs: number;
}

/** Where a part's bytes come from: the workbook's zip (XlsxZip), or one part's bytes read already (PartBytes). */
export interface PartSource {
  /** What errors call the file (erp.xlsx). */
  readonly display: string;
  /** The entry's uncompressed bytes, CRC-checked once read to the end. */
  chunks(entry: ZipEntry): AsyncIterable<Buffer>;
}

/**
 * A cut of the part in two (excel/split.ts): this thread parses the bytes before the cut, another
 * thread may have read the rest. Asked once the parse reaches byte `from`.
 */
export interface PartCut {
  /** The cut falls at or after this byte of the part. */
  from: number;
  /** Where the cut is (a byte offset at or after `from`), or null: no cut, parse on. */
  at(): Promise<number | null>;
  /**
   * The parse has read every byte before the cut and none after it. `clean`: no comment, CDATA or
   * processing instruction began before it (the bytes after the cut are then read as markup, as by
   * the other thread). Resolves true when the rest of the part was read, and verified, elsewhere
   * (the parse stops there), false to parse on from the cut.
   */
  taken(clean: boolean): Promise<boolean>;
}

/** Deeper nesting than any SpreadsheetML part has: refused as hostile. */
const MAX_DEPTH = 64;

interface Frame {
  depth: number;
  prefixes: Map<string, string>;
  kinds: Map<string, number>;
}

/** The namespace declarations in scope at an element: resolves prefixes of names and attributes. */
export class NamespaceScope {
  /** @internal */ frames: Frame[] = [{ depth: 0, prefixes: new Map([['xml', NS.xml]]), kinds: new Map() }];

  /** The URI of a prefix ('' for the default namespace), or undefined when undeclared. */
  resolve(prefix: string): string | undefined {
    for (let i = this.frames.length - 1; i >= 0; i--) {
      const u = this.frames[i]!.prefixes.get(prefix);
      if (u !== undefined) return u;
    }
    return undefined;
  }

  /** The value of the attribute with this namespace URI and local name (a prefixed attribute, r:id). */
  attribute(attrs: Attributes, uri: string, local: string): string | undefined {
    for (const k in attrs) {
      const i = k.indexOf(':');
      if (i < 0 || k.slice(i + 1) !== local) continue;
      if (this.resolve(k.slice(0, i)) === uri) return attrs[k];
    }
    return undefined;
  }
}

/** The error a part that is not well-formed XML gets. */
export function notXml(display: string, part: string, why: string): BottleneckError {
  return createError(
    'BN_ERR_INPUT_CORRUPT',
    `${display} cannot be read as an xlsx workbook (${part}: ${why}): export it again from Excel and drop it again`,
    { location: { file: display } },
  );
}

/**
 * Parses one part of the zip with the XML scanner (xml-scanner.ts), streaming: inflated chunk by chunk, decoded as UTF-8 (a
 * character cut by a chunk boundary is joined, never replaced; bytes that are not UTF-8 are refused),
 * namespaces resolved by URI whatever the prefixes, a DOCTYPE refused (no entity tricks), and bounded
 * in time, depth and in text without markup. When the handler says it is done the parse stops; with
 * `drain` the rest of the part is still inflated so that its CRC is checked.
 *
 * A part that fails to parse is drained too: if its CRC fails, the CRC error is the one reported.
 */
export async function parsePart(
  zip: PartSource,
  entry: ZipEntry,
  handler: XmlHandler,
  bounds: XmlBounds,
  opts: { drain?: boolean; cut?: PartCut } = {},
): Promise<void> {
  const scope = new NamespaceScope();
  let depth = 0;
  let events = 0;
  // The kind of each open element, for its end tag: no second lookup.
  const kinds: number[] = [];
  const kindOf = (name: string): number => {
    const frame = scope.frames[scope.frames.length - 1]!;
    let k = frame.kinds.get(name);
    if (k === undefined) {
      const i = name.indexOf(':');
      const prefix = i < 0 ? '' : name.slice(0, i);
      const uri = scope.resolve(prefix);
      if (uri === undefined && prefix !== '') parser.fail(`unbound namespace prefix: "${prefix}"`);
      k = handler.classify(uri ?? '', i < 0 ? name : name.slice(i + 1));
      frame.kinds.set(name, k);
    }
    return k;
  };
  // The handler's one-call cells and shared strings, where `c` and `v` (`si` and `t`), unprefixed,
  // are the elements it takes them for: asked again whenever the namespaces in scope change.
  const cellKinds = handler.cell ? handler.cellKinds : undefined;
  const cell = (r: string | undefined, s: string | undefined, t: string | undefined, v: string | undefined) => {
    // Too deep: the element-by-element path refuses it, with its message.
    if (depth + 2 > MAX_DEPTH) return false;
    events += v === undefined ? 2 : 5;
    handler.cell!(r, s, t, v);
    return true;
  };
  const ssKinds = handler.sharedString ? handler.sharedStringKinds : undefined;
  const sharedString = (text: string) => {
    if (depth + 2 > MAX_DEPTH) return false;
    events += 5;
    handler.sharedString!(text);
    return true;
  };
  const offerOneCall = () => {
    parser.cell = cellKinds && kindOf('c') === cellKinds[0] && kindOf('v') === cellKinds[1] ? cell : undefined;
    parser.sharedString =
      ssKinds && kindOf('si') === ssKinds[0] && kindOf('t') === ssKinds[1] ? sharedString : undefined;
  };
  const oneCall = cellKinds !== undefined || ssKinds !== undefined;
  const parser: XmlScanner = new XmlScanner(entry.name, {
    open(name, attrs, declared) {
      events++;
      depth++;
      if (depth > MAX_DEPTH) parser.fail(`elements nest deeper than ${MAX_DEPTH}`);
      if (declared) scope.frames.push({ depth, prefixes: declared, kinds: new Map() });
      const kind = kindOf(name);
      kinds.push(kind);
      handler.open(kind, attrs, scope);
      if (declared && oneCall) offerOneCall();
    },
    close() {
      events++;
      handler.close(kinds.pop()!);
      const top = scope.frames[scope.frames.length - 1]!;
      if (top.depth === depth) {
        scope.frames.pop();
        if (oneCall) offerOneCall();
      }
      depth--;
    },
    text(t) {
      events++;
      handler.text(t);
    },
    doctype() {
      parser.fail('a DOCTYPE is not allowed in an xlsx part');
    },
  });

  const decoder = decoderFor(entry);
  // Text with no markup for this long cannot be a cell Excel wrote (a cell holds at most
  // maxCellChars characters; escaped, at most ten bytes each): an endless cell or tag is refused
  // here, bounded (by this and one chunk), instead of being buffered by the parser without end.
  const maxQuiet = bounds.maxCellChars * 10 + 65_536;
  let quiet = 0;
  let seen = 0;
  let parseError: Error | undefined;
  let draining = false;
  const feed = (bytes: Buffer): void => {
    const text = decoder.decode(bytes);
    parser.write(text);
    if (events === seen) {
      quiet += text.length;
      if (quiet > maxQuiet) throw tooLong(bounds, handler, maxQuiet);
    } else {
      quiet = 0;
      seen = events;
    }
  };
  const cut = opts.cut;
  // With a cut: the offset of the chunk in the part, the cut once known, and whether a comment, CDATA
  // or processing instruction (`<!`, `<?`; the XML declaration aside) began before it.
  let offset = 0;
  let cutAt: number | null | undefined = cut ? undefined : null;
  let special = false;
  let lastLt = false;
  let bom = false;
  for await (const chunk of zip.chunks(entry)) {
    if (draining) continue;
    let piece = chunk;
    try {
      if (bounds.budget.spent()) throw timeout(bounds, handler);
      if (cut && cutAt !== null) {
        if (offset === 0) bom = chunk[0] === 0xef && chunk[1] === 0xbb && chunk[2] === 0xbf;
        if (offset + chunk.length > cut.from) cutAt ??= await cut.at();
        const end = cutAt === undefined || cutAt === null ? -1 : cutAt - offset;
        if (end >= 0 && end <= chunk.length) {
          // The chunk holding the cut: the bytes before it are parsed here, the rest perhaps elsewhere.
          const head = chunk.subarray(0, end);
          special ||= specialMarkup(head, offset, lastLt, bom);
          feed(head);
          piece = chunk.subarray(end);
          cutAt = null;
          if (!handler.done && (await cut.taken(!special))) return;
        } else {
          special ||= specialMarkup(chunk, offset, lastLt, bom);
          lastLt = chunk[chunk.length - 1] === 60;
        }
        offset += chunk.length;
      }
      if (!handler.done) feed(piece);
      if (handler.done) {
        if (!opts.drain) return;
        draining = true;
      }
    } catch (e) {
      if (e instanceof BottleneckError && e.code !== 'BN_ERR_INPUT_CORRUPT') throw e;
      // Keep inflating: a damaged part is reported by its CRC, deterministically, not by where the parse tripped.
      parseError = e as Error;
      draining = true;
    }
  }
  if (parseError)
    throw parseError instanceof BottleneckError
      ? parseError
      : notXml(zip.display, entry.name, parseError.message.replace(`${entry.name}:`, '').trim());
  if (draining) return;
  try {
    const rest = decoder.end();
    if (rest) parser.write(rest);
    parser.close();
  } catch (e) {
    if (e instanceof BottleneckError) throw e;
    throw notXml(zip.display, entry.name, (e as Error).message.replace(`${entry.name}:`, '').trim());
  }
}

/**
 * Whether `b` (at `offset` in its part; `afterLt`: the byte before it was `<`) holds the start of a
 * comment, CDATA section, DOCTYPE or processing instruction: `<!` or `<?`, the XML declaration at
 * the part's start (after its UTF-8 byte-order mark, `bom`) aside.
 */
function specialMarkup(b: Buffer, offset: number, afterLt: boolean, bom: boolean): boolean {
  if (afterLt && b.length > 0 && (b[0] === 33 || b[0] === 63)) return true;
  if (b.indexOf('<!') >= 0) return true;
  const declaration = bom ? 3 : 0;
  for (let i = b.indexOf('<?'); i >= 0; i = b.indexOf('<?', i + 2)) if (offset + i !== declaration) return true;
  return false;
}

interface ChunkDecoder {
  /** The text of the next chunk; a character cut at its end waits for the next one. */
  decode(b: Buffer): string;
  /** The end of the part: throws when it ends inside a character. */
  end(): string;
}

/** UTF-8 unless the part starts with a UTF-16 byte-order mark (OPC allows both). */
function decoderFor(entry: ZipEntry): ChunkDecoder {
  let inner: ChunkDecoder | undefined;
  const invalid = (enc: string) => new Error(`${entry.name}: bytes that are not ${enc} text`);
  return {
    decode(b) {
      if (!inner) {
        const bom = b.length >= 2 ? (b[0]! << 8) | b[1]! : 0;
        inner =
          bom === 0xfffe || bom === 0xfeff
            ? utf16(bom === 0xfffe ? 'utf-16le' : 'utf-16be', invalid)
            : new Utf8Chunks(invalid);
      }
      return inner.decode(b);
    },
    end: () => inner?.end() ?? '',
  };
}

function utf16(encoding: string, invalid: (enc: string) => Error): ChunkDecoder {
  const d = new TextDecoder(encoding, { fatal: true });
  const wrap = (f: () => string) => {
    try {
      return f();
    } catch {
      throw invalid(encoding.toUpperCase());
    }
  };
  return { decode: (b) => wrap(() => d.decode(b, { stream: true })), end: () => wrap(() => d.decode()) };
}

/**
 * Streaming UTF-8 that refuses what is not UTF-8 (never a U+FFFD in its place) and joins a
 * character cut by a chunk boundary. Sheet XML is mostly ASCII: such a chunk is copied as Latin-1,
 * the cheapest string V8 makes; the rest is validated (isUtf8) and decoded by Node.
 */
class Utf8Chunks implements ChunkDecoder {
  private carry: Buffer | null = null;

  constructor(private readonly invalid: (enc: string) => Error) {}

  decode(chunk: Buffer): string {
    let b = this.carry ? Buffer.concat([this.carry, chunk]) : chunk;
    this.carry = null;
    // A byte-order mark at the start is decoded as U+FEFF, which the scanner skips there.
    if (isAscii(b)) return b.toString('latin1');
    // A sequence cut at the end: its lead byte is within the last 3 bytes and wants more than remain.
    for (let i = b.length - 1; i >= 0 && i >= b.length - 3; i--) {
      const c = b[i]!;
      if ((c & 0xc0) === 0x80) continue;
      const want = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
      if (b.length - i < want) {
        this.carry = Buffer.from(b.subarray(i));
        b = b.subarray(0, i);
      }
      break;
    }
    if (!isUtf8(b)) throw this.invalid('UTF-8');
    return b.toString('utf8');
  }

  end(): string {
    if (this.carry) throw this.invalid('UTF-8');
    return '';
  }
}

function place(b: XmlBounds, h: Pick<XmlHandler, 'row'>): { text: string; location: CellLocation } {
  const row = h.row();
  return {
    text: `${b.file}${b.sheet !== undefined ? `, sheet "${b.sheet}"` : ''}${row ? `, row ${row}` : ''}`,
    location: { file: b.file, ...(b.sheet !== undefined ? { sheet: b.sheet } : {}), ...(row ? { row } : {}) },
  };
}

/** The refusal of a read past its CPU time (BN_MAX_READ_MS), at the row `h` is in. */
export function timeout(b: XmlBounds, h: Pick<XmlHandler, 'row'>): BottleneckError {
  const at = place(b, h);
  return createError(
    'BN_ERR_INPUT_TOO_LARGE',
    `${at.text}: reading took more than ${b.timeLimitMs} ms of CPU time (BN_MAX_READ_MS); the workbook is too large or hostile`,
    { location: at.location },
  );
}

function tooLong(b: XmlBounds, h: XmlHandler, n: number): BottleneckError {
  const at = place(b, h);
  return createError(
    'BN_ERR_INPUT_TOO_LARGE',
    `${at.text}: more than ${n} characters without markup (a cell holds at most ${b.maxCellChars} characters); the workbook is damaged or hostile`,
    { location: at.location },
  );
}
