import { rm } from 'node:fs/promises';
import { neutralizeText } from '@bottleneck/shared/text/sanitize';
import { OFFICE_THEME_XML } from '@bottleneck/shared/excel/theme';
import { ZipWriter } from '@bottleneck/shared/excel/zip-writer';

export interface ReportRow {
  product_id: string | number;
  sku: string;
  post_title: string | null;
  total_sales: string | number;
  /** Exact decimal string, e.g. "1234.50". */
  revenue: string;
}

export interface ReportSummary {
  runId: string;
  partition: string;
  /** When the run started (ISO 8601): the workbook's creation date and the Summary's "Made at". */
  madeAt: string;
  totalRevenue: string;
  products: number;
  premium: number;
  ordinary: number;
  unitsSold: string;
}

export const REVENUE_SHEET = 'Revenue by Product';
export const SUMMARY_SHEET = 'Summary';
/** Labels of the Summary sheet, read back by the summary_total_matches check. */
export const SUMMARY_LABELS = {
  run: 'Run',
  partition: 'Partition',
  madeAt: 'Made at (UTC)',
  totalRevenue: 'Total revenue',
  products: 'Products',
  premium: 'Premium wines',
  ordinary: 'Ordinary wines',
  unitsSold: 'Units sold',
} as const;

/** What the writer put in the workbook, as it wrote it: the check compares these, nothing is read back. */
export interface WrittenReport {
  /** The file's size in bytes. */
  bytes: number;
  /** Product rows written to the "Revenue by Product" sheet. */
  rows: number;
  /** The Summary's "Total revenue" cell as written (the `<v>` text a spreadsheet reads). */
  summaryTotal: string;
}

const XML_HEAD = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>';
const NS_MAIN = 'http://schemas.openxmlformats.org/spreadsheetml/2006/main';
const NS_REL = 'http://schemas.openxmlformats.org/officeDocument/2006/relationships';
const NS_PKG_REL = 'http://schemas.openxmlformats.org/package/2006/relationships';
const CT = 'application/vnd.openxmlformats-officedocument';

// The cell styles (cellXfs indices) of styles.xml below.
const S_ID = 1; // number format "0"
const S_COUNT = 2; // "#,##0"
const S_EURO = 3; // euros
const S_BOLD = 4;
const S_BOLD_ID = 5;
const S_BOLD_COUNT = 6;
const S_BOLD_EURO = 7;
const S_WHEN = 8; // date and time

const STYLES_XML =
  XML_HEAD +
  '\n<styleSheet xmlns="' +
  NS_MAIN +
  '" xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006" mc:Ignorable="x14ac x16r2" xmlns:x14ac="http://schemas.microsoft.com/office/spreadsheetml/2009/9/ac" xmlns:x16r2="http://schemas.microsoft.com/office/spreadsheetml/2015/02/main">' +
  '<numFmts count="2"><numFmt numFmtId="164" formatCode="#,##0.00 [$€-fr-FR]"/><numFmt numFmtId="165" formatCode="yyyy-mm-dd hh:mm:ss"/></numFmts>' +
  '<fonts count="2" x14ac:knownFonts="1"><font><color theme="1"/><family val="2"/><scheme val="minor"/><sz val="11"/><name val="Calibri"/></font><font><b/></font></fonts>' +
  '<fills count="2"><fill><patternFill patternType="none"/></fill><fill><patternFill patternType="gray125"/></fill></fills>' +
  '<borders count="1"><border><left/><right/><top/><bottom/><diagonal/></border></borders>' +
  '<cellStyleXfs count="1"><xf numFmtId="0" fontId="0" fillId="0" borderId="0"/></cellStyleXfs>' +
  '<cellXfs count="9"><xf numFmtId="0" fontId="0" fillId="0" borderId="0" xfId="0"/>' +
  '<xf numFmtId="1" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>' +
  '<xf numFmtId="3" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>' +
  '<xf numFmtId="164" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/>' +
  '<xf numFmtId="0" fontId="1" fillId="0" borderId="0" xfId="0" applyFont="1"/>' +
  '<xf numFmtId="1" fontId="1" fillId="0" borderId="0" xfId="0" applyNumberFormat="1" applyFont="1"/>' +
  '<xf numFmtId="3" fontId="1" fillId="0" borderId="0" xfId="0" applyNumberFormat="1" applyFont="1"/>' +
  '<xf numFmtId="164" fontId="1" fillId="0" borderId="0" xfId="0" applyNumberFormat="1" applyFont="1"/>' +
  '<xf numFmtId="165" fontId="0" fillId="0" borderId="0" xfId="0" applyNumberFormat="1"/></cellXfs>' +
  '<cellStyles count="1"><cellStyle name="Normal" xfId="0" builtinId="0"/></cellStyles><dxfs count="0"/>' +
  '<tableStyles count="0" defaultTableStyle="TableStyleMedium2" defaultPivotStyle="PivotStyleLight16"/>' +
  '<extLst><ext uri="{EB79DEF2-80B8-43e5-95BD-54CBDDF9020C}" xmlns:x14="http://schemas.microsoft.com/office/spreadsheetml/2009/9/main"><x14:slicerStyles defaultSlicerStyle="SlicerStyleLight1"/></ext>' +
  '<ext uri="{9260A510-F301-46a8-8635-F512D64BE5F5}" xmlns:x15="http://schemas.microsoft.com/office/spreadsheetml/2010/11/main"><x15:timelineStyles defaultTimelineStyle="TimeSlicerStyleLight1"/></ext></extLst></styleSheet>';

const CONTENT_TYPES_XML =
  XML_HEAD +
  '\n<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">' +
  '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>' +
  '<Default Extension="xml" ContentType="application/xml"/>' +
  `<Override PartName="/xl/workbook.xml" ContentType="${CT}.spreadsheetml.sheet.main+xml"/>` +
  `<Override PartName="/xl/worksheets/sheet1.xml" ContentType="${CT}.spreadsheetml.worksheet+xml"/>` +
  `<Override PartName="/xl/worksheets/sheet2.xml" ContentType="${CT}.spreadsheetml.worksheet+xml"/>` +
  `<Override PartName="/xl/theme/theme1.xml" ContentType="${CT}.theme+xml"/>` +
  `<Override PartName="/xl/styles.xml" ContentType="${CT}.spreadsheetml.styles+xml"/>` +
  `<Override PartName="/xl/sharedStrings.xml" ContentType="${CT}.spreadsheetml.sharedStrings+xml"/>` +
  `<Default Extension="vml" ContentType="${CT}.vmlDrawing"/>` +
  '<Override PartName="/docProps/core.xml" ContentType="application/vnd.openxmlformats-package.core-properties+xml"/>' +
  `<Override PartName="/docProps/app.xml" ContentType="${CT}.extended-properties+xml"/></Types>`;

const ROOT_RELS_XML =
  XML_HEAD +
  `\n<Relationships xmlns="${NS_PKG_REL}">` +
  `<Relationship Id="rId1" Type="${NS_REL}/officeDocument" Target="xl/workbook.xml"/>` +
  `<Relationship Id="rId2" Type="${NS_PKG_REL}/metadata/core-properties" Target="docProps/core.xml"/>` +
  `<Relationship Id="rId3" Type="${NS_REL}/extended-properties" Target="docProps/app.xml"/></Relationships>`;

const WORKBOOK_RELS_XML =
  XML_HEAD +
  `\n<Relationships xmlns="${NS_PKG_REL}">` +
  `<Relationship Id="rId1" Type="${NS_REL}/styles" Target="styles.xml"/>` +
  `<Relationship Id="rId2" Type="${NS_REL}/theme" Target="theme/theme1.xml"/>` +
  `<Relationship Id="rId3" Type="${NS_REL}/sharedStrings" Target="sharedStrings.xml"/>` +
  `<Relationship Id="rId4" Type="${NS_REL}/worksheet" Target="worksheets/sheet1.xml"/>` +
  `<Relationship Id="rId5" Type="${NS_REL}/worksheet" Target="worksheets/sheet2.xml"/></Relationships>`;

const SHEET_HEAD =
  XML_HEAD +
  `<worksheet xmlns="${NS_MAIN}" xmlns:r="${NS_REL}" xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006" mc:Ignorable="x14ac" xmlns:x14ac="http://schemas.microsoft.com/office/spreadsheetml/2009/9/ac">` +
  '<sheetViews><sheetView workbookViewId="0"><pane ySplit="1" topLeftCell="A2" activePane="bottomLeft" state="frozen"/><selection pane="bottomLeft"/></sheetView></sheetViews>' +
  '<sheetFormatPr defaultRowHeight="15" outlineLevelRow="0" outlineLevelCol="0" x14ac:dyDescent="55"/>';
const SHEET_TAIL =
  '<pageMargins left="0.7" right="0.7" top="0.75" bottom="0.75" header="0.3" footer="0.3"/>' +
  '<pageSetup orientation="portrait" horizontalDpi="4294967295" verticalDpi="4294967295" scale="100" fitToWidth="1" fitToHeight="1"/></worksheet>';

function appXml(): string {
  return (
    XML_HEAD +
    '\n<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/extended-properties" xmlns:vt="http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes">' +
    '<Application>Microsoft Excel</Application><DocSecurity>0</DocSecurity><ScaleCrop>false</ScaleCrop>' +
    '<HeadingPairs><vt:vector size="2" baseType="variant"><vt:variant><vt:lpstr>Worksheets</vt:lpstr></vt:variant><vt:variant><vt:i4>2</vt:i4></vt:variant></vt:vector></HeadingPairs>' +
    `<TitlesOfParts><vt:vector size="2" baseType="lpstr"><vt:lpstr>${xmlText(REVENUE_SHEET)}</vt:lpstr><vt:lpstr>${xmlText(SUMMARY_SHEET)}</vt:lpstr></vt:vector></TitlesOfParts>` +
    '<Company></Company><LinksUpToDate>false</LinksUpToDate><SharedDoc>false</SharedDoc><HyperlinksChanged>false</HyperlinksChanged><AppVersion>16.0300</AppVersion></Properties>'
  );
}

function coreXml(made: Date): string {
  const when = made.toISOString().replace(/[.]\d{3}/, '');
  return (
    XML_HEAD +
    '\n<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" xmlns:dcmitype="http://purl.org/dc/dcmitype/" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">' +
    '<dc:creator>BottleNeck pipeline</dc:creator><cp:lastModifiedBy>ExcelJS</cp:lastModifiedBy>' +
    `<dcterms:created xsi:type="dcterms:W3CDTF">${when}</dcterms:created><dcterms:modified xsi:type="dcterms:W3CDTF">${when}</dcterms:modified></cp:coreProperties>`
  );
}

function workbookXml(): string {
  return (
    XML_HEAD +
    `\n<workbook xmlns="${NS_MAIN}" xmlns:r="${NS_REL}" xmlns:mc="http://schemas.openxmlformats.org/markup-compatibility/2006" mc:Ignorable="x15" xmlns:x15="http://schemas.microsoft.com/office/spreadsheetml/2010/11/main">` +
    '<fileVersion appName="xl" lastEdited="5" lowestEdited="5" rupBuild="9303"/><workbookPr defaultThemeVersion="164011" filterPrivacy="1"/>' +
    `<sheets><sheet sheetId="1" name="${xmlText(REVENUE_SHEET)}" state="visible" r:id="rId4"/><sheet sheetId="2" name="${xmlText(SUMMARY_SHEET)}" state="visible" r:id="rId5"/></sheets>` +
    '<calcPr calcId="171027"/></workbook>'
  );
}

// Characters XML 1.0 cannot carry (control characters other than tab, newline, carriage return; DEL) are dropped.
// eslint-disable-next-line no-control-regex
const XML_SPECIAL = /["&'<>\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/g;
const XML_ESCAPES: Record<string, string> = { '"': '&quot;', '&': '&amp;', "'": '&apos;', '<': '&lt;', '>': '&gt;' };

/** Text escaped for XML content and attributes. */
export function xmlText(s: string): string {
  return s.replace(XML_SPECIAL, (c) => XML_ESCAPES[c] ?? '');
}

/** The shared strings table: each distinct text once, in order of first use. */
class SharedStrings {
  private readonly index = new Map<string, number>();
  readonly values: string[] = [];

  add(s: string): number {
    let i = this.index.get(s);
    if (i === undefined) {
      i = this.values.length;
      this.index.set(s, i);
      this.values.push(s);
    }
    return i;
  }
}

/** Excel's serial number of a moment (days since 1899-12-30, the 1900 date system). */
function excelSerial(d: Date): number {
  return 25569 + d.getTime() / 86_400_000;
}

/**
 * Writes revenue_per_product.xlsx, for an analyst to open, with the pipeline's own streaming
 * writer (no spreadsheet library on a run's path): sheet "Revenue by Product" (column titles in
 * words, bold and frozen header row, autofilter, units with a thousands separator, revenue as a
 * number in euros) and sheet "Summary" (the run, the month, when it was made, the figures). Text
 * cells are neutralised and written as shared strings, never formulas. The parts, cells and styles
 * are those exceljs 4.4.0 wrote for this report before (a test compares them); every date in the
 * file is the run's start, so the same run writes the same bytes. What is written is verified as it
 * is written (sizes and CRCs computed from the bytes handed to the file); it returns what the
 * Summary shows, for the summary_total_matches check. On failure the partial file is removed.
 */
export async function writeRevenueReport(
  path: string,
  rows: readonly ReportRow[],
  s: ReportSummary,
): Promise<WrittenReport> {
  const made = new Date(s.madeAt);
  if (Number.isNaN(made.getTime())) throw new TypeError(`writeRevenueReport: madeAt is not a date: ${s.madeAt}`);
  const zip = await ZipWriter.create(path, made);
  try {
    const strings = new SharedStrings();
    const str = (ref: string, v: string | null, style = 0) => {
      const st = style ? ` s="${style}"` : '';
      if (v === null) return ''; // an empty cell is left out, as exceljs did
      return `<c r="${ref}"${st} t="s"><v>${strings.add(neutralizeText(v))}</v></c>`;
    };
    const num = (ref: string, v: number, style: number) => `<c r="${ref}" s="${style}"><v>${String(v)}</v></c>`;
    const header = (width: number, cells: string) =>
      `<row r="1" spans="1:${width}" s="${S_BOLD}" customFormat="1" x14ac:dyDescent="0.25">${cells}</row>`;
    await zip.entry('xl/theme/theme1.xml', (put) => put(OFFICE_THEME_XML));
    await zip.entry('_rels/.rels', (put) => put(ROOT_RELS_XML));

    let written = 0;
    await zip.entry('xl/worksheets/sheet1.xml', async (put) => {
      await put(
        SHEET_HEAD +
          '<cols><col min="1" max="1" width="12" style="1" customWidth="1"/><col min="2" max="2" width="22" customWidth="1"/>' +
          '<col min="3" max="3" width="60" customWidth="1"/><col min="4" max="4" width="12" style="2" customWidth="1"/>' +
          '<col min="5" max="5" width="16" style="3" customWidth="1"/></cols><sheetData>',
      );
      await put(
        header(
          5,
          str('A1', 'Product ID', S_BOLD_ID) +
            str('B1', 'SKU', S_BOLD) +
            str('C1', 'Product', S_BOLD) +
            str('D1', 'Units sold', S_BOLD_COUNT) +
            str('E1', 'Revenue (€)', S_BOLD_EURO),
        ),
      );
      let n = 1;
      for (const r of rows) {
        n++;
        await put(
          `<row r="${n}" spans="1:5" x14ac:dyDescent="0.25">` +
            num(`A${n}`, Number(r.product_id), S_ID) +
            str(`B${n}`, r.sku) +
            str(`C${n}`, r.post_title) +
            num(`D${n}`, Number(r.total_sales), S_COUNT) +
            num(`E${n}`, Number(r.revenue), S_EURO) +
            '</row>',
        );
        written++;
      }
      await put(`</sheetData><autoFilter ref="A1:E1"/>` + SHEET_TAIL);
    });

    const L = SUMMARY_LABELS;
    const summaryTotal = String(Number(s.totalRevenue));
    await zip.entry('xl/worksheets/sheet2.xml', async (put) => {
      let n = 1;
      // The label's cell first: shared strings are numbered in the order cells are written.
      const line = (label: string, value: (ref: string) => string) => {
        n++;
        const first = str(`A${n}`, label);
        return `<row r="${n}" spans="1:2" x14ac:dyDescent="0.25">${first}${value(`B${n}`)}</row>`;
      };
      await put(
        SHEET_HEAD +
          '<cols><col min="1" max="1" width="22" customWidth="1"/><col min="2" max="2" width="40" customWidth="1"/></cols><sheetData>' +
          header(2, str('A1', 'Metric', S_BOLD) + str('B1', 'Value', S_BOLD)) +
          line(L.run, (at) => str(at, s.runId)) +
          line(L.partition, (at) => str(at, s.partition)) +
          line(L.madeAt, (at) => `<c r="${at}" s="${S_WHEN}"><v>${String(excelSerial(made))}</v></c>`) +
          line(L.totalRevenue, (at) => `<c r="${at}" s="${S_EURO}"><v>${summaryTotal}</v></c>`) +
          line(L.products, (at) => num(at, s.products, S_COUNT)) +
          line(L.premium, (at) => num(at, s.premium, S_COUNT)) +
          line(L.ordinary, (at) => num(at, s.ordinary, S_COUNT)) +
          line(L.unitsSold, (at) => num(at, Number(s.unitsSold), S_COUNT)) +
          '</sheetData>' +
          SHEET_TAIL,
      );
    });
    await zip.entry('[Content_Types].xml', (put) => put(CONTENT_TYPES_XML));
    await zip.entry('docProps/app.xml', (put) => put(appXml()));
    await zip.entry('docProps/core.xml', (put) => put(coreXml(made)));
    await zip.entry('xl/sharedStrings.xml', async (put) => {
      const v = strings.values;
      await put(XML_HEAD + `\n<sst xmlns="${NS_MAIN}" count="${v.length}" uniqueCount="${v.length}">`);
      for (const t of v) {
        const space = /^\s|\n|\s$/.test(t) ? ' xml:space="preserve"' : '';
        await put(`<si><t${space}>${xmlText(t)}</t></si>`);
      }
      await put('</sst>');
    });
    await zip.entry('xl/styles.xml', (put) => put(STYLES_XML));
    await zip.entry('xl/_rels/workbook.xml.rels', (put) => put(WORKBOOK_RELS_XML));
    await zip.entry('xl/workbook.xml', (put) => put(workbookXml()));
    if (written !== rows.length) throw new Error(`${path}: wrote ${written} of ${rows.length} product rows`);
    const { bytes } = await zip.close();
    return { bytes, rows: written, summaryTotal };
  } catch (e) {
    await zip.abort();
    await rm(path, { force: true });
    throw e;
  }
}

/**
 * Reads the Summary sheet back (Metric -> Value) with the pipeline's own reader, without
 * converting the large product sheet: what a spreadsheet would show, for the summary_total_matches check.
 */
export async function readSummary(path: string): Promise<Map<string, unknown>> {
  const { DEFAULT_READ_LIMITS, readSheetValues } = await import('@bottleneck/shared/excel/read');
  const got = await readSheetValues(path, 'revenue_per_product.xlsx', SUMMARY_SHEET, DEFAULT_READ_LIMITS);
  const label = (v: unknown) =>
    typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean' ? String(v) : '';
  return new Map(got.rows.map((r) => [label(r[0]), r[1]]));
}
