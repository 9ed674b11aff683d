import type { EventType } from '../events/index.js';

export type Stage = 'ingest' | 'clean' | 'merge' | 'analytics' | 'publisher' | 'alerter';

/** Declares a check on an asset (Dagster's AssetCheckSpec). A failed ERROR check that is blocking stops everything downstream. */
export interface AssetCheckSpec {
  name: string;
  description: string;
  severity: 'ERROR' | 'WARN';
  blocking: boolean;
}

/** Declares an asset (Dagster's AssetSpec): key, upstream assets, the stage that materializes it, its checks. */
export interface AssetSpec {
  key: string;
  stage: Stage;
  deps: readonly string[];
  description: string;
  /** File name of the materialized object under staging/<partition>/<run-id>/ (raw assets live under incoming/). */
  file: string;
  /** Name under extracts/<partition>/ when the publisher publishes this asset (or a CSV export of it). */
  publishAs?: string;
  checks: readonly AssetCheckSpec[];
}

const err = (name: string, description: string): AssetCheckSpec => ({ name, description, severity: 'ERROR', blocking: true });
const warn = (name: string, description: string): AssetCheckSpec => ({ name, description, severity: 'WARN', blocking: false });

/** On each cleaned asset: its export's sheet was found by name (else its only worksheet was read). */
const SHEET_PRESENT = warn('expected_sheet_present', 'the export has the expected sheet (Sheet1); without it, its only worksheet is read and named here');

/** Added to every asset when the run has expectations (`--expect FILE`). */
export const EXPECTATION_CHECK = err('matches_expectations', 'row count (and total revenue, premium and ordinary counts where given) equal the expectations file');

/**
 * The asset graph, declared once. The executors, the services' subscriptions, the Mermaid diagram
 * and the status pages are all derived from this list.
 */
export const ASSETS: readonly AssetSpec[] = [
  { key: 'raw_erp', stage: 'ingest', deps: [], file: 'erp.xlsx', description: 'ERP export as dropped (products, prices, stock); data version = content hash', checks: [err('vital', 'file present, within size bounds, an intact xlsx with the required sheet and columns')] },
  { key: 'raw_web', stage: 'ingest', deps: [], file: 'web.xlsx', description: 'WooCommerce export as dropped (with sales)', checks: [err('vital', 'file present, within size bounds, an intact xlsx with the required sheet and columns')] },
  { key: 'raw_liaison', stage: 'ingest', deps: [], file: 'liaison.xlsx', description: 'ERP product -> web product mapping as dropped', checks: [err('vital', 'file present, within size bounds, an intact xlsx with the required sheet and columns')] },
  {
    key: 'erp_clean', stage: 'clean', deps: ['raw_erp'], file: 'erp_clean.parquet',
    description: 'ERP rows with a product_id, exact duplicates dropped',
    checks: [
      err('product_id_not_null', 'no null product_id'),
      err('product_id_unique', 'no product_id twice (same id, different data)'),
      warn('price_not_negative', 'no negative price'),
      warn('stock_not_negative', 'no negative stock_quantity'),
      SHEET_PRESENT,
    ],
  },
  {
    key: 'web_clean', stage: 'clean', deps: ['raw_web'], file: 'web_clean.parquet',
    description: 'web products (post_type = product, sku present), exact duplicates dropped, latest post_modified kept per sku',
    checks: [
      err('sku_not_null', 'no null sku'),
      err('sku_unique', 'no sku twice after keeping the latest post_modified'),
      warn('sku_single_version', 'no sku had two product rows (the dropped older versions are listed)'),
      SHEET_PRESENT,
    ],
  },
  {
    key: 'liaison_clean', stage: 'clean', deps: ['raw_liaison'], file: 'liaison_clean.parquet',
    description: 'ERP-web mapping, exact duplicates dropped, rows without id_web kept',
    checks: [
      err('product_id_not_null', 'no null product_id'),
      err('product_id_unique', 'no product_id mapped twice'),
      warn('id_web_matches_web', 'every id_web names a web product'),
      SHEET_PRESENT,
    ],
  },
  {
    key: 'merged_with_revenue', stage: 'merge', deps: ['erp_clean', 'liaison_clean', 'web_clean'], file: 'merged_with_revenue.parquet', publishAs: 'merged_with_revenue.csv',
    description: 'ERP join liaison on product_id join web on id_web = sku, with revenue = price x total_sales',
    checks: [
      err('revenue_not_null', 'every merged row has a revenue'),
      err('keys_unique', 'no product_id and no sku twice'),
      err('row_count_matches_web', 'merged rows = web products that have an ERP match'),
    ],
  },
  {
    key: 'revenue_per_product', stage: 'analytics', deps: ['merged_with_revenue'], file: 'revenue_per_product.parquet',
    description: 'revenue per product, by revenue descending then product_id',
    checks: [err('total_revenue_preserved', 'sum of revenue equals the total of merged_with_revenue')],
  },
  {
    key: 'wine_price_zscores', stage: 'analytics', deps: ['merged_with_revenue'], file: 'wine_price_zscores.parquet',
    description: 'z-score of price over the merged rows (sample standard deviation)',
    checks: [err('row_count_matches_merged', 'one z-score per merged row')],
  },
  {
    key: 'premium_wines', stage: 'analytics', deps: ['wine_price_zscores'], file: 'premium_wines.csv', publishAs: 'premium_wines.csv',
    description: 'wines with z > 2, by price descending then product_id',
    checks: [err('premium_plus_ordinary_is_merged', 'premium + ordinary = merged rows')],
  },
  {
    key: 'ordinary_wines', stage: 'analytics', deps: ['wine_price_zscores'], file: 'ordinary_wines.csv', publishAs: 'ordinary_wines.csv',
    description: 'wines with z <= 2, by price descending then product_id',
    checks: [],
  },
  {
    key: 'revenue_report', stage: 'analytics', deps: ['revenue_per_product', 'premium_wines', 'ordinary_wines'], file: 'revenue_per_product.xlsx', publishAs: 'revenue_per_product.xlsx',
    description: 'workbook: sheet "Revenue by Product" and sheet "Summary"',
    checks: [err('summary_total_matches', 'Summary total revenue equals the sum of revenue_per_product')],
  },
  {
    key: 'extracts', stage: 'publisher', deps: ['merged_with_revenue', 'premium_wines', 'ordinary_wines', 'revenue_report'], file: '_manifest.json',
    description: 'the published set under extracts/<partition>/, manifest written last',
    checks: [],
  },
];

/** What each stage consumes and emits: the services' subscriptions. */
export const STAGES: readonly { stage: Stage; consumes: readonly EventType[]; emits: readonly EventType[] }[] = [
  { stage: 'ingest', consumes: ['trigger'], emits: ['file-arrived'] },
  { stage: 'clean', consumes: ['file-arrived', 'cleaned'], emits: ['cleaned', 'validated'] },
  { stage: 'merge', consumes: ['validated'], emits: ['merged'] },
  { stage: 'analytics', consumes: ['merged'], emits: ['analysed'] },
  { stage: 'publisher', consumes: ['analysed'], emits: ['published'] },
  { stage: 'alerter', consumes: ['failed'], emits: [] },
];

/** Cross-asset checks run by the validation gate, after the cleaned assets' own checks. */
export const GATE_CHECKS: readonly AssetCheckSpec[] = [
  warn('erp_products_mapped', 'every ERP product sold online (onsale_web = 1) has a liaison row'),
];

const byKey = new Map(ASSETS.map((a) => [a.key, a]));

export function assetSpec(key: string): AssetSpec {
  const a = byKey.get(key);
  if (!a) throw new Error(`unknown asset ${key}`);
  return a;
}

export function assetsOfStage(stage: Stage): AssetSpec[] {
  return ASSETS.filter((a) => a.stage === stage);
}

export function checkSpec(asset: string, check: string): AssetCheckSpec {
  if (check === EXPECTATION_CHECK.name) return EXPECTATION_CHECK;
  const spec = byKey.get(asset)?.checks.find((c) => c.name === check) ?? GATE_CHECKS.find((c) => c.name === check);
  if (!spec) throw new Error(`unknown check ${asset}.${check}`);
  return spec;
}

/** Assets in an order where every asset comes after its upstream assets (and declared order otherwise). */
export function topologicalOrder(assets: readonly AssetSpec[] = ASSETS): AssetSpec[] {
  const index = new Map(assets.map((a) => [a.key, a]));
  const lookup = (key: string) => {
    const a = index.get(key);
    if (!a) throw new Error(`unknown asset ${key}`);
    return a;
  };
  const done = new Set<string>();
  const out: AssetSpec[] = [];
  const visit = (a: AssetSpec, path: string[]) => {
    if (done.has(a.key)) return;
    if (path.includes(a.key)) throw new Error(`cycle in the asset graph: ${[...path, a.key].join(' -> ')}`);
    for (const d of a.deps) visit(lookup(d), [...path, a.key]);
    done.add(a.key);
    out.push(a);
  };
  for (const a of assets) visit(a, []);
  return out;
}

/** The graph as a Mermaid flowchart, one subgraph per stage. */
export function toMermaid(assets: readonly AssetSpec[] = ASSETS): string {
  const lines = ['flowchart LR'];
  for (const { stage } of STAGES) {
    const own = assets.filter((a) => a.stage === stage);
    if (!own.length) continue;
    lines.push(`  subgraph ${stage}`);
    for (const a of own) lines.push(`    ${a.key}[${a.key}]`);
    lines.push('  end');
  }
  for (const a of assets) for (const d of a.deps) lines.push(`  ${d} --> ${a.key}`);
  return lines.join('\n') + '\n';
}
