import { createError } from '../errors/index.js';
import { SharedStrings } from './shared-strings.js';
import { isMain, NS, parsePart, type Attributes, type NamespaceScope, type XmlBounds, type XmlHandler } from './xml.js';
import type { XlsxZip, ZipEntry } from './zip.js';

/** One sheet the workbook lists, resolved through its relationship to its part. */
export interface SheetRef {
  name: string;
  /** Zip entry name of its part (xl/worksheets/sheet1.xml), or null when the relationship names no part in the zip. */
  part: string | null;
  /** A worksheet (not a chartsheet or dialogsheet). */
  worksheet: boolean;
  state: 'visible' | 'hidden' | 'veryHidden';
}

/** What xl/workbook.xml and its relationships say: the sheets and where they are, the date system, the shared parts. */
export interface WorkbookInfo {
  part: string;
  sheets: SheetRef[];
  /** workbookPr date1904: serial dates count from 1904-01-01 (old Mac Excel). */
  date1904: boolean;
  sharedStrings: string | null;
  styles: string | null;
}

const OFFICE_DOCUMENT = '/officeDocument';
const REL_SUFFIX = { worksheet: '/worksheet', sharedStrings: '/sharedStrings', styles: '/styles' };
/** Relationship types end the same in the transitional and the strict namespaces. */
const relType = (type: string, suffix: string) =>
  type.endsWith(suffix) &&
  (type.startsWith('http://schemas.openxmlformats.org/officeDocument/2006/relationships') ||
    type.startsWith('http://purl.oclc.org/ooxml/officeDocument/relationships'));

/** Where a part's relationships are: xl/workbook.xml -> xl/_rels/workbook.xml.rels. */
function relsPartOf(part: string): string {
  const i = part.lastIndexOf('/');
  return `${part.slice(0, i + 1)}_rels/${part.slice(i + 1)}.rels`;
}

/**
 * The zip entry a relationship's target names: relative to the source part's folder, or absolute
 * (from the package root) when it starts with '/'; '.' and '..' resolved, %-escapes decoded.
 */
export function resolveTarget(sourcePart: string, target: string): string {
  let t = target;
  try {
    t = decodeURIComponent(target);
  } catch {
    // not %-encoded: taken as it is
  }
  const base = t.startsWith('/') ? [] : sourcePart.split('/').slice(0, -1);
  for (const seg of t.split('/')) {
    if (seg === '' || seg === '.') continue;
    if (seg === '..') base.pop();
    else base.push(seg);
  }
  return base.join('/');
}

/** An entry by name, or by the same name in another case (OPC part names are case-insensitive). */
function find(zip: XlsxZip, name: string): ZipEntry | undefined {
  const e = zip.entry(name);
  if (e) return e;
  const lower = name.toLowerCase();
  return zip.summary.entries.find((x) => x.name.toLowerCase() === lower);
}

const K_OTHER = 0;

/** Collects the elements of interest of a small part, with their attributes (prefixed ones resolved by `resolve`). */
class Collector implements XmlHandler {
  readonly found: { kind: number; attrs: Attributes; resolved?: string }[] = [];
  done = false;
  constructor(
    private readonly kinds: (uri: string, local: string) => number,
    private readonly resolve?: (attrs: Attributes, scope: NamespaceScope) => string | undefined,
  ) {}
  classify(uri: string, local: string): number {
    return this.kinds(uri, local);
  }
  open(kind: number, attrs: Attributes, scope: NamespaceScope): void {
    if (kind === K_OTHER) return;
    const resolved = this.resolve?.(attrs, scope);
    this.found.push({ kind, attrs, ...(resolved !== undefined ? { resolved } : {}) });
  }
  close(): void {}
  text(): void {}
  row(): number {
    return 0;
  }
}

interface Relationship {
  id: string;
  type: string;
  target: string;
  external: boolean;
}

async function readRels(zip: XlsxZip, relsPart: string, bounds: XmlBounds): Promise<Relationship[] | null> {
  const entry = find(zip, relsPart);
  if (!entry) return null;
  const c = new Collector((uri, local) => (uri === NS.pkgRel && local === 'Relationship' ? 1 : K_OTHER));
  await parsePart(zip, entry, c, bounds);
  return c.found.map(({ attrs }) => ({
    id: attrs.Id ?? '',
    type: attrs.Type ?? '',
    target: attrs.Target ?? '',
    external: attrs.TargetMode === 'External',
  }));
}

const WB_SHEET = 1;
const WB_PR = 2;

/**
 * Reads the workbook's structure: the workbook part (from the package's _rels/.rels, else
 * xl/workbook.xml), its sheets in order with their names, states and parts (through
 * xl/_rels/workbook.xml.rels, whatever the order of the parts in the zip), the date system, and the
 * shared strings and styles parts. Namespaces are matched by URI, so any prefix (x:workbook) works.
 */
export async function readWorkbookInfo(zip: XlsxZip, bounds: XmlBounds): Promise<WorkbookInfo> {
  const display = zip.display;
  const rootRels = await readRels(zip, '_rels/.rels', bounds);
  const docRel = rootRels?.find((r) => !r.external && relType(r.type, OFFICE_DOCUMENT));
  const part = docRel ? resolveTarget('', docRel.target) : 'xl/workbook.xml';
  const wbEntry = find(zip, part);
  if (!wbEntry)
    throw createError('BN_ERR_INPUT_NOT_XLSX', `${display} is a zip file but not an xlsx workbook (no ${part})`, {
      location: { file: display },
    });
  // A sheet's relationship id is r:id, whatever prefix the writer bound to the relationships namespace.
  const c = new Collector(
    (uri, local) => (!isMain(uri) ? K_OTHER : local === 'sheet' ? WB_SHEET : local === 'workbookPr' ? WB_PR : K_OTHER),
    (attrs, scope) => scope.attribute(attrs, NS.rel, 'id') ?? scope.attribute(attrs, NS.relStrict, 'id'),
  );
  await parsePart(zip, wbEntry, c, bounds);
  const rels = (await readRels(zip, relsPartOf(wbEntry.name), bounds)) ?? [];
  const byId = new Map(rels.filter((r) => !r.external).map((r) => [r.id, r]));
  const partOf = (rel: Relationship | undefined): string | null => {
    if (!rel) return null;
    const e = find(zip, resolveTarget(wbEntry.name, rel.target));
    return e ? e.name : null;
  };
  let date1904 = false;
  const sheets: SheetRef[] = [];
  for (const { kind, attrs, resolved: id } of c.found) {
    if (kind === WB_PR) date1904 = attrs.date1904 === '1' || attrs.date1904 === 'true';
    else {
      const rel = id === undefined ? undefined : byId.get(id);
      const state = attrs.state === 'hidden' || attrs.state === 'veryHidden' ? attrs.state : 'visible';
      sheets.push({
        name: attrs.name ?? '',
        part: partOf(rel),
        worksheet: rel ? relType(rel.type, REL_SUFFIX.worksheet) : false,
        state,
      });
    }
  }
  // A workbook without relationships has no sheet to read either (each sheet is found through its
  // relationship): its shared parts are not looked for at conventional names.
  const shared = (suffix: string) => partOf(rels.find((r) => !r.external && relType(r.type, suffix)));
  return {
    part: wbEntry.name,
    sheets,
    date1904,
    sharedStrings: shared(REL_SUFFIX.sharedStrings),
    styles: shared(REL_SUFFIX.styles),
  };
}

/** Built-in number formats that are dates or times (ECMA-376 18.8.30). */
const BUILTIN_DATE_FORMATS = new Set([14, 15, 16, 17, 18, 19, 20, 21, 22, 45, 46, 47]);

/**
 * Whether a custom number format code shows a date or a time: a d, m, y, h or s outside quoted
 * text, [brackets] (colours, locales, conditions), and escaped or fill/padding characters.
 */
export function isDateFormat(code: string): boolean {
  for (let i = 0; i < code.length; i++) {
    const ch = code[i]!;
    if (ch === '"') {
      const end = code.indexOf('"', i + 1);
      i = end < 0 ? code.length : end;
    } else if (ch === '[') {
      const end = code.indexOf(']', i + 1);
      i = end < 0 ? code.length : end;
    } else if (ch === '\\' || ch === '_' || ch === '*') {
      i++;
    } else if ('dmyhsDMYHS'.includes(ch)) {
      return true;
    }
  }
  return false;
}

const ST_NUMFMT = 1;
const ST_CELLXFS = 2;
const ST_XF = 3;

/** Reads styles.xml: for each cell style index (the s of a cell), whether its number format is a date. */
export async function readDateStyles(zip: XlsxZip, part: string | null, bounds: XmlBounds): Promise<boolean[]> {
  const entry = part ? zip.entry(part) : undefined;
  if (!entry) return [];
  const formats = new Map<number, string>();
  const xfs: number[] = [];
  let inCellXfs = false;
  const h: XmlHandler = {
    done: false,
    classify: (uri, local) =>
      !isMain(uri)
        ? K_OTHER
        : local === 'numFmt'
          ? ST_NUMFMT
          : local === 'cellXfs'
            ? ST_CELLXFS
            : local === 'xf'
              ? ST_XF
              : K_OTHER,
    open(kind, attrs) {
      if (kind === ST_NUMFMT) formats.set(Number(attrs.numFmtId), attrs.formatCode ?? '');
      else if (kind === ST_CELLXFS) inCellXfs = true;
      else if (kind === ST_XF && inCellXfs) xfs.push(Number(attrs.numFmtId ?? 0));
    },
    close(kind) {
      if (kind === ST_CELLXFS) inCellXfs = false;
    },
    text() {},
    row: () => 0,
  };
  await parsePart(zip, entry, h, bounds);
  return xfs.map((id) => {
    const custom = formats.get(id);
    return custom !== undefined ? isDateFormat(custom) : BUILTIN_DATE_FORMATS.has(id);
  });
}

/**
 * Excel's escape of characters XML cannot hold: `_xHHHH_` is the UTF-16 code unit HHHH, and
 * `_x005F_` escapes the underscore of a literal `_xHHHH_`.
 */
export function decodeExcelEscapes(s: string): string {
  let i = s.indexOf('_x');
  if (i < 0) return s;
  let out = '';
  let from = 0;
  while (i >= 0) {
    if (i + 6 < s.length && s.charCodeAt(i + 6) === 95 && isHex4(s, i + 2)) {
      out += s.slice(from, i) + String.fromCharCode(parseInt(s.slice(i + 2, i + 6), 16));
      from = i + 7;
      i = s.indexOf('_x', from);
    } else {
      i = s.indexOf('_x', i + 1);
    }
  }
  return out + s.slice(from);
}

function isHex4(s: string, at: number): boolean {
  for (let j = at; j < at + 4; j++) {
    const c = s.charCodeAt(j);
    if (!((c >= 48 && c <= 57) || (c >= 65 && c <= 70) || (c >= 97 && c <= 102))) return false;
  }
  return true;
}

const SS_SI = 1;
const SS_T = 2;
const SS_RPH = 3;

/**
 * Reads sharedStrings.xml: each `<si>`'s text, its `<t>` or the `<t>` of its rich-text runs
 * (`<r>`) joined, phonetic runs (`<rPh>`) left out, whitespace kept exactly, `_xHHHH_` decoded,
 * kept as UTF-8 in a SharedStrings store (decoded when a cell refers to one).
 * `until` stops after that many strings (a header check needs only the first few).
 */
export async function readSharedStrings(
  zip: XlsxZip,
  part: string | null,
  bounds: XmlBounds,
  until = Infinity,
): Promise<SharedStrings> {
  const out = new SharedStrings();
  const entry = part ? zip.entry(part) : undefined;
  if (!entry) return out;
  let buf = '';
  let inSi = false;
  let inT = false;
  let phonetic = 0;
  const h: XmlHandler = {
    done: false,
    classify: (uri, local) =>
      !isMain(uri) ? K_OTHER : local === 'si' ? SS_SI : local === 't' ? SS_T : local === 'rPh' ? SS_RPH : K_OTHER,
    open(kind) {
      if (this.done) return;
      if (kind === SS_T) inT = inSi && phonetic === 0;
      else if (kind === SS_SI) {
        inSi = true;
        buf = '';
      } else if (kind === SS_RPH) phonetic++;
    },
    close(kind) {
      if (this.done) return;
      if (kind === SS_T) inT = false;
      else if (kind === SS_RPH) phonetic--;
      else if (kind === SS_SI) {
        inSi = false;
        out.add(decodeExcelEscapes(buf));
        buf = '';
        if (out.length >= until) this.done = true;
      }
    },
    text(t) {
      if (inT) buf += t;
    },
    row: () => 0,
    // <si><t>text</t></si> right under the root: what open and close of si and t would do.
    sharedStringKinds: [SS_SI, SS_T],
    sharedString(t) {
      if (this.done) return;
      out.add(decodeExcelEscapes(t));
      if (out.length >= until) this.done = true;
    },
  };
  await parsePart(zip, entry, h, bounds);
  return out.finish();
}
