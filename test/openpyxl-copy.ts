import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { readSheetValues, type CellValue } from '../shared/src/excel/read.js';
import { columnName } from '../shared/src/excel/sheet.js';
import { buildZip } from '../shared/src/testing/workbook.js';

const MAIN = 'http://schemas.openxmlformats.org/spreadsheetml/2006/main';
const REL = 'http://schemas.openxmlformats.org/officeDocument/2006/relationships';
const PKG = 'http://schemas.openxmlformats.org/package/2006/relationships';
const DECL = "<?xml version='1.0' encoding='UTF-8'?>\n";

/** Text as openpyxl escapes it, with Excel's _xHHHH_ for what XML cannot hold and &#13; so a CR survives. */
function xmlText(s: string): string {
  return s
    .replace(/_(x[0-9A-Fa-f]{4}_)/g, '_x005F_$1')
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/\r/g, '&#13;')
    .replace(
      // eslint-disable-next-line no-control-regex
      /[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g,
      (c) => `_x${c.charCodeAt(0).toString(16).padStart(4, '0').toUpperCase()}_`,
    );
}

/** A worksheet as openpyxl's write-only mode writes it: every string inline, dates as numbers with style 1. */
function sheetXml(rows: readonly CellValue[][]): string {
  const out: string[] = [
    `<worksheet xmlns="${MAIN}"><sheetPr><outlinePr summaryBelow="1" summaryRight="1"/><pageSetUpPr/></sheetPr><sheetViews><sheetView workbookViewId="0"><selection activeCell="A1" sqref="A1"/></sheetView></sheetViews><sheetFormatPr baseColWidth="8" defaultRowHeight="15"/><sheetData>`,
  ];
  rows.forEach((row, i) => {
    const r = i + 1;
    out.push(`<row r="${r}">`);
    row.forEach((v, j) => {
      const ref = `${columnName(j + 1)}${r}`;
      if (v === null || v === undefined) return;
      if (typeof v === 'string')
        out.push(
          `<c r="${ref}" t="inlineStr"><is><t${/^\s|\s$/.test(v) ? ' xml:space="preserve"' : ''}>${xmlText(v)}</t></is></c>`,
        );
      else if (typeof v === 'number') out.push(`<c r="${ref}" t="n"><v>${v}</v></c>`);
      else if (typeof v === 'boolean') out.push(`<c r="${ref}" t="b"><v>${v ? 1 : 0}</v></c>`);
      else if (v instanceof Date) out.push(`<c r="${ref}" s="1" t="n"><v>${v.getTime() / 86_400_000 + 25_569}</v></c>`);
      else out.push(`<c r="${ref}" t="e"><v>${xmlText(v.error)}</v></c>`);
    });
    out.push('</row>');
  });
  out.push(
    '</sheetData><pageMargins left="0.75" right="0.75" top="1" bottom="1" header="0.5" footer="0.5"/></worksheet>',
  );
  return out.join('');
}

const STYLES = `<styleSheet xmlns="${MAIN}"><numFmts count="1"><numFmt numFmtId="164" formatCode="yyyy-mm-dd h:mm:ss"/></numFmts><fonts count="1"><font><name val="Calibri"/><family val="2"/><color theme="1"/><sz val="11"/><scheme val="minor"/></font></fonts><fills count="2"><fill><patternFill/></fill><fill><patternFill patternType="gray125"/></fill></fills><borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders><cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs><cellXfs count="2"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" pivotButton="0" quotePrefix="0" xfId="0"/><xf numFmtId="164" fontId="0" fillId="0" borderId="0" pivotButton="0" quotePrefix="0" xfId="0"/></cellXfs><cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0" hidden="0"/></cellStyles></styleSheet>`;

/**
 * Writes an xlsx with the parts in openpyxl's order (docProps, the worksheets, styles, then
 * _rels/.rels, xl/workbook.xml and its relationships, content types last) and openpyxl's
 * write-only cells (inline strings): what pandas' writer produces, made without Python.
 */
export async function writeOpenpyxlShaped(
  path: string,
  sheets: readonly { name: string; rows: readonly CellValue[][] }[],
): Promise<void> {
  const part = (name: string, text: string) => ({ name, data: Buffer.from(text, 'utf8') });
  const sheetParts = sheets.map((s, i) => part(`xl/worksheets/sheet${i + 1}.xml`, sheetXml(s.rows)));
  const workbook = `<workbook xmlns="${MAIN}"><workbookPr/><workbookProtection/><bookViews><workbookView visibility="visible" minimized="0" showHorizontalScroll="1" showVerticalScroll="1" showSheetTabs="1" tabRatio="600" firstSheet="0" activeTab="0" autoFilterDateGrouping="1"/></bookViews><sheets>${sheets.map((s, i) => `<sheet xmlns:r="${REL}" name="${xmlText(s.name)}" sheetId="${i + 1}" state="visible" r:id="rId${i + 1}"/>`).join('')}</sheets><definedNames/><calcPr calcId="124519" fullCalcOnLoad="1"/></workbook>`;
  const wbRels = `<Relationships xmlns="${PKG}">${sheets.map((_, i) => `<Relationship Id="rId${i + 1}" Target="/xl/worksheets/sheet${i + 1}.xml" Type="${REL}/worksheet"/>`).join('')}<Relationship Id="rId${sheets.length + 1}" Target="styles.xml" Type="${REL}/styles"/></Relationships>`;
  const types = `<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>${sheets.map((_, i) => `<Override PartName="/xl/worksheets/sheet${i + 1}.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>`).join('')}<Override PartName="/xl/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.styles+xml"/></Types>`;
  await writeFile(
    path,
    buildZip([
      part(
        'docProps/app.xml',
        `${DECL}<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties"><Application>Microsoft Excel</Application><AppVersion>3.0.9</AppVersion></Properties>`,
      ),
      ...sheetParts,
      part('xl/styles.xml', STYLES),
      part(
        '_rels/.rels',
        `<Relationships xmlns="${PKG}"><Relationship Id="rId1" Target="xl/workbook.xml" Type="${REL}/officeDocument"/></Relationships>`,
      ),
      part('xl/workbook.xml', workbook),
      part('xl/_rels/workbook.xml.rels', wbRels),
      part('[Content_Types].xml', types),
    ]),
  );
}

/**
 * An openpyxl-shaped copy of a month (erp, web, liaison), read with the pipeline's reader and
 * rewritten by writeOpenpyxlShaped; erp.xlsx gains a decoy sheet "Old prices", prices doubled,
 * before Sheet1. The same as `make_openpyxl.py --month` does with openpyxl.
 */
export async function writeOpenpyxlMonth(input: string, out: string): Promise<void> {
  for (const name of ['erp', 'web', 'liaison']) {
    const { rows } = await readSheetValues(join(input, `${name}.xlsx`), `${name}.xlsx`, 'Sheet1');
    const sheets = [{ name: 'Sheet1', rows }];
    if (name === 'erp') {
      const price = rows[0]!.indexOf('price');
      sheets.unshift({
        name: 'Old prices',
        rows: rows.map((r, i) => r.map((v, j) => (i > 0 && j === price && typeof v === 'number' ? v * 2 : v))),
      });
    }
    await writeOpenpyxlShaped(join(out, `${name}.xlsx`), sheets);
  }
}
