import { buildZip, type ZipEntrySpec } from './workbook.js';

export const MAIN_NS = 'http://schemas.openxmlformats.org/spreadsheetml/2006/main';
export const REL_NS = 'http://schemas.openxmlformats.org/officeDocument/2006/relationships';
export const PKG_NS = 'http://schemas.openxmlformats.org/package/2006/relationships';

/** One sheet of a hand-built workbook: its name, the XML inside its `<sheetData>` (or the whole part), its state and kind. */
export interface PartSheet {
  name: string;
  /** The rows (`<row>...</row>`), wrapped in a worksheet and its sheetData; or the whole part when it starts with '<worksheet' or '<?xml'. */
  xml: string;
  state?: 'hidden' | 'veryHidden';
  /** A chartsheet's relationship instead of a worksheet's. */
  chart?: boolean;
  /** The relationship names a part the zip does not hold. */
  noPart?: boolean;
}

/** What else the workbook holds: shared strings (each `<si>`'s text), cellXfs number formats, custom formats, the 1904 date system. */
export interface PartOptions {
  shared?: string[];
  /** The shared strings part as it is (damaged, say), instead of one built from `shared`. */
  sharedXml?: string;
  /** numFmtId of each cell style (the s of a cell), in order. */
  styles?: number[];
  formats?: Record<number, string>;
  date1904?: boolean;
  extra?: ZipEntrySpec[];
}

/**
 * The bytes of a small xlsx built part by part, in memory (no library): for tests that need one
 * exact part, a cell type, a style, a row without `r`, with relationships as Excel writes them.
 *
 * @example
 * const bytes = xlsxOf([{ name: 'Sheet1', xml: '<row r="1"><c r="A1" t="s"><v>0</v></c></row>' }], { shared: ['id'] });
 */
export function xlsxOf(sheets: readonly PartSheet[], o: PartOptions = {}): Buffer {
  const wb = `<workbook xmlns="${MAIN_NS}" xmlns:r="${REL_NS}">${o.date1904 ? '<workbookPr date1904="1"/>' : ''}<sheets>${sheets
    .map(
      (s, i) =>
        `<sheet name="${s.name}" sheetId="${i + 1}"${s.state ? ` state="${s.state}"` : ''} r:id="rId${i + 1}"/>`,
    )
    .join('')}</sheets></workbook>`;
  const rel = (id: string, type: string, target: string) =>
    `<Relationship Id="${id}" Type="${REL_NS}/${type}" Target="${target}"/>`;
  const rels = [
    ...sheets.map((s, i) =>
      rel(
        `rId${i + 1}`,
        s.chart ? 'chartsheet' : 'worksheet',
        s.chart ? `chartsheets/sheet${i + 1}.xml` : `worksheets/sheet${i + 1}.xml`,
      ),
    ),
    ...(o.shared || o.sharedXml !== undefined ? [rel('rIdS', 'sharedStrings', 'sharedStrings.xml')] : []),
    ...(o.styles ? [rel('rIdT', 'styles', 'styles.xml')] : []),
  ];
  const whole = (x: string) => x.startsWith('<worksheet') || x.startsWith('<?xml');
  const entries: ZipEntrySpec[] = [
    { name: 'xl/workbook.xml', data: Buffer.from(wb) },
    {
      name: 'xl/_rels/workbook.xml.rels',
      data: Buffer.from(`<Relationships xmlns="${PKG_NS}">${rels.join('')}</Relationships>`),
    },
    ...sheets
      .map((s, i) => ({ s, i }))
      .filter(({ s }) => !s.noPart)
      .map(({ s, i }) => ({
        name: s.chart ? `xl/chartsheets/sheet${i + 1}.xml` : `xl/worksheets/sheet${i + 1}.xml`,
        data: Buffer.from(
          whole(s.xml) ? s.xml : `<worksheet xmlns="${MAIN_NS}"><sheetData>${s.xml}</sheetData></worksheet>`,
        ),
      })),
  ];
  if (o.shared || o.sharedXml !== undefined)
    entries.push({
      name: 'xl/sharedStrings.xml',
      data: Buffer.from(
        o.sharedXml ??
          `<sst xmlns="${MAIN_NS}" count="${o.shared?.length ?? 0}">${(o.shared ?? []).map((t) => `<si><t xml:space="preserve">${t}</t></si>`).join('')}</sst>`,
      ),
    });
  if (o.styles) {
    const fmts = Object.entries(o.formats ?? {});
    entries.push({
      name: 'xl/styles.xml',
      data: Buffer.from(
        `<styleSheet xmlns="${MAIN_NS}">${fmts.length ? `<numFmts>${fmts.map(([id, code]) => `<numFmt numFmtId="${id}" formatCode="${code}"/>`).join('')}</numFmts>` : ''}<cellXfs>${o.styles.map((id) => `<xf numFmtId="${id}"/>`).join('')}</cellXfs></styleSheet>`,
      ),
    });
  }
  return buildZip([...entries, ...(o.extra ?? [])]);
}

/** A row of inline-string and number cells, with or without references: `cells` in column order from A. */
export function rowXml(r: number | null, cells: readonly (string | number | null)[]): string {
  const col = (i: number) => String.fromCharCode(65 + i);
  return `<row${r === null ? '' : ` r="${r}"`}>${cells
    .map((v, i) => {
      if (v === null) return '';
      const ref = r === null ? '' : ` r="${col(i)}${r}"`;
      return typeof v === 'number' ? `<c${ref}><v>${v}</v></c>` : `<c${ref} t="inlineStr"><is><t>${v}</t></is></c>`;
    })
    .join('')}</row>`;
}
