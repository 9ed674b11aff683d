/**
 * Synthetic monthly exports for BottleNeck: erp.xlsx, web.xlsx and liaison.xlsx,
 * shaped like the real exports (same sheets, columns, cell types, zip layout)
 * and as dirty as they are, at K times the reference size.
 *
 * All content is synthetic (names from word lists in ./words.ts, numbers from a
 * seeded PRNG). Same seed and scale => byte-identical files.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Writable } from 'node:stream';
import ExcelJS from 'exceljs';
import { Rng, hash32 } from './prng.js';
import { normalizeZip } from './zip.js';
import { GIFT_CARD_EXCERPT, excerpt, slugify, wineTitle } from './words.js';

export interface GenerateOptions {
  outDir: string;
  /** K: multiple of the reference month's size (825 ERP products). Default 1. */
  scale?: number;
  /** PRNG seed. Default 1. */
  seed?: number;
}

export interface GeneratedMonth {
  files: { erp: string; web: string; liaison: string };
  /** distinct ERP products */
  products: number;
  /** data rows (header excluded) written to each file */
  webRows: number;
  erpRows: number;
  liaisonRows: number;
  /**
   * Ground truth under the reference month's cleaning rules (drop exact duplicates;
   * web: keep post_type 'product' rows with a sku, trim skus, one row per sku keeping
   * the latest post_modified; inner-join web -> liaison.id_web -> ERP product_id).
   */
  expected: ExpectedFigures;
  /** How many of each deliberate defect were written. */
  anomalies: Anomalies;
}

export interface ExpectedFigures {
  erpRowsClean: number;
  webRowsClean: number;
  liaisonRowsClean: number;
  mergedRows: number;
  /** sum of price x total_sales over merged rows, rounded to cents */
  revenue: number;
  /** merged rows whose price z-score (sample standard deviation) is > 2 */
  premium: number;
  ordinary: number;
}

export interface Anomalies {
  webAttachmentRows: number;
  webBlankRows: number;
  webProductRowsWithoutSku: number;
  /** skus that are not numbers once trimmed (gift cards, 'NNNNN-1' variants) */
  nonNumericSkus: number;
  /** numeric skus written as text with spaces around them (product and attachment rows) */
  paddedWebSkus: number;
  /** skus with a second, older product row (different post_modified and total_sales) */
  staleWebSkus: number;
  webExactDuplicates: number;
  erpExactDuplicates: number;
  liaisonExactDuplicates: number;
  /** liaison rows (duplicates excluded) with an empty id_web */
  emptyIdWeb: number;
  /** liaison id_web values that match no web sku */
  unmatchedIdWeb: number;
  /** liaison id_web numbers written as text with spaces around them */
  paddedIdWeb: number;
  negativePrice: number;
  negativeStock: number;
  /** stock_status disagreeing with stock_quantity */
  stockStatusMismatch: number;
}

/** The reference month's sizes, which K multiplies. */
const REF = {
  products: 825,
  offline: 0.107, // onsale_web 0, no id_web
  onlineUnlinked: 0.004, // onsale_web 1 but no id_web
  unmatched: 0.01, // id_web pointing to no web product
  premium: 0.042, // of web products
  blankRows: 83,
  noSku: 2,
  giftCards: 1,
  variants: 2,
  paddedSkus: 3,
  paddedIdWeb: 3,
  staleSkus: 2,
  webDuplicates: 4,
  erpDuplicates: 3,
  liaisonDuplicates: 3,
  negativePrice: 2,
  negativeStock: 2,
  statusMismatch: 5,
  author1: 1,
} as const;

export const WEB_COLUMNS = [
  'sku',
  'virtual',
  'downloadable',
  'rating_count',
  'average_rating',
  'total_sales',
  'tax_status',
  'tax_class',
  'post_author',
  'post_date',
  'post_date_gmt',
  'post_content',
  'post_title',
  'post_excerpt',
  'post_status',
  'comment_status',
  'ping_status',
  'post_password',
  'post_name',
  'post_modified',
  'post_modified_gmt',
  'post_content_filtered',
  'post_parent',
  'guid',
  'menu_order',
  'post_type',
  'post_mime_type',
  'comment_count',
] as const;
export const ERP_COLUMNS = ['product_id', 'onsale_web', 'price', 'stock_quantity', 'stock_status'] as const;
export const LIAISON_COLUMNS = ['product_id', 'id_web'] as const;

const DAY = 86_400_000;
const SITE = 'https://www.bottle-neck.fr';

type Category = 'web' | 'offline' | 'onlineUnlinked' | 'unmatched';
type Cell = string | number | Date | null;

interface WebProduct {
  /** sku as the shop knows it (null for the product rows without sku) */
  sku: number | string | null;
  /** sku as written in web.xlsx (maybe padded text) */
  skuCell: number | string | null;
  postId: number;
  title: string;
  slug: string;
  excerpt: string;
  author: number;
  postGmt: number;
  modifiedGmt: number;
  totalSales: number;
  upload: string;
  stale?: { modifiedGmt: number; totalSales: number };
}

interface Product {
  productId: number;
  category: Category;
  onsale: 0 | 1;
  priceCents: number;
  stock: number;
  status: 'instock' | 'outofstock';
  idWeb: number | string | null;
  web?: WebProduct;
}

type WebRow = { kind: 'product' | 'attachment' | 'stale'; w: WebProduct } | { kind: 'blank' };

function must<T>(value: T | undefined, what: string): T {
  if (value === undefined) throw new Error(`generator invariant broken: ${what}`);
  return value;
}

/** Paris wall-clock offset (CET/CEST) at a UTC instant. */
function parisOffset(utc: number): number {
  const year = new Date(utc).getUTCFullYear();
  const lastSunday = (month: number): number => {
    const last = new Date(Date.UTC(year, month + 1, 0));
    return Date.UTC(year, month, last.getUTCDate() - last.getUTCDay(), 1);
  };
  return utc >= lastSunday(2) && utc < lastSunday(9) ? 2 * 3_600_000 : 3_600_000;
}

/** Excel keeps local wall-clock times without zone: exceljs reads them back as UTC. */
const wallClock = (utc: number): Date => new Date(utc + parisOffset(utc));

function lognormal(rng: Rng, median: number, sigma: number): number {
  return median * Math.exp(sigma * rng.normal());
}

/** Prices in cents: about a quarter whole euros, most with one decimal, a few with two. */
function roundPrice(rng: Rng, euros: number): number {
  const u = rng.next();
  if (u < 0.26) return Math.max(1, Math.round(euros)) * 100;
  if (u < 0.95) return Math.max(1, Math.round(euros * 10)) * 10;
  return Math.max(1, Math.round(euros)) * 100 - 5; // 19.95 style
}

function ordinaryPrice(rng: Rng): number {
  for (;;) {
    const p = lognormal(rng, 24, 0.62);
    if (p >= 4 && p <= 92) return roundPrice(rng, p);
  }
}

function sales(rng: Rng): number {
  if (rng.chance(0.46)) return 0;
  return Math.min(150, Math.max(1, Math.round(lognormal(rng, 2.8, 1.3))));
}

function otherSales(rng: Rng, fresh: number): number {
  return fresh > 0 && rng.chance(0.5) ? rng.int(0, fresh - 1) : fresh + rng.int(1, 6);
}

/** `count` distinct integers: a few small legacy ids, the rest increasing with random gaps. */
function idPool(rng: Rng, count: number): number[] {
  const small = Math.min(Math.round(count * 0.01), 900);
  const pool = rng.sample(
    Array.from({ length: 970 }, (_, i) => 30 + i),
    small,
  );
  let cur = 10_000 + rng.int(0, 3_000);
  while (pool.length < count) {
    cur += rng.int(1, 9);
    pool.push(cur);
  }
  return rng.shuffle(pool);
}

/** Take the next `n` items of a list being consumed front to back. */
function take<T>(list: T[], n: number, what: string): T[] {
  if (list.length < n) throw new RangeError(`scale too small: not enough products for ${what}`);
  return list.splice(0, n);
}

interface Plan {
  products: Product[];
  erpOrder: Product[];
  liaisonOrder: Product[];
  web: WebRow[];
  monthStart: number;
  expected: ExpectedFigures;
  anomalies: Anomalies;
}

function plan(scale: number, seed: number): Plan {
  const r = (x: number, min = 0): number => Math.max(min, Math.round(x * scale));
  const n = r(REF.products);
  if (n < 100) throw new RangeError(`scale ${scale} is too small (needs at least 100 products)`);

  // The export month, derived from the seed: one of 2018-01 .. 2021-12.
  const m = hash32(seed, 'month') % 48;
  const monthStart = Date.UTC(2018 + Math.floor(m / 12), m % 12, 1);
  const exportYear = new Date(monthStart).getUTCFullYear();

  // --- ERP products -------------------------------------------------------
  const rIds = Rng.derive(seed, 'product-ids');
  const products: Product[] = [];
  let pid = 3_000 + rIds.int(0, 999);
  for (let i = 0; i < n; i++) {
    pid += i === 0 ? 0 : rIds.int(1, 8);
    products.push({
      productId: pid,
      category: 'web',
      onsale: 1,
      priceCents: 0,
      stock: 0,
      status: 'outofstock',
      idWeb: null,
    });
  }

  const rCat = Rng.derive(seed, 'categories');
  const shuffled = rCat.shuffle(products.slice());
  const offline = take(shuffled, Math.round(n * REF.offline), 'offline');
  const unlinked = take(shuffled, Math.max(1, Math.round(n * REF.onlineUnlinked)), 'unlinked');
  const unmatched = take(shuffled, Math.max(1, Math.round(n * REF.unmatched)), 'unmatched');
  const online = shuffled; // the rest: sold online, linked to a web product
  for (const p of offline) [p.category, p.onsale] = ['offline', 0];
  for (const p of unlinked) [p.category, p.onsale] = ['onlineUnlinked', 1];
  for (const p of unmatched) [p.category, p.onsale] = ['unmatched', 0];

  // prices and stock
  const rPrice = Rng.derive(seed, 'prices');
  for (const p of products) p.priceCents = ordinaryPrice(rPrice);
  const rStock = Rng.derive(seed, 'stock');
  for (const p of products) {
    p.stock = rStock.chance(0.22) ? 0 : Math.min(600, Math.max(1, Math.round(lognormal(rStock, 18, 1.1))));
    p.status = p.stock > 0 ? 'instock' : 'outofstock';
  }

  // --- web products ---------------------------------------------------------
  const rWeb = Rng.derive(seed, 'web');
  const webOrder = rWeb.shuffle(online.slice());
  const gifts = take(webOrder, r(REF.giftCards, 1), 'gift cards');
  const variants = take(webOrder, r(REF.variants, 1), 'variant skus');
  const plain = webOrder; // numeric skus
  const plainPick = rWeb.shuffle(plain.slice());
  const padded = take(plainPick, r(REF.paddedSkus, 1), 'padded skus');
  const staleOnes = take(plainPick, r(REF.staleSkus, 1), 'stale skus');
  const paddedLinks = take(plainPick, r(REF.paddedIdWeb, 1), 'padded id_web');
  const webDupSources = take(plainPick, r(REF.webDuplicates, 1), 'web duplicates');
  const author1 = take(plainPick, r(REF.author1, 1), 'post_author 1');

  const noSkuCount = r(REF.noSku, 1);
  const textUnmatched = Math.min(unmatched.length, r(1, 1));
  const pool = idPool(rWeb, online.length + unmatched.length + noSkuCount + gifts.length + variants.length);
  const nextId = (): number => must(pool.pop(), 'id pool exhausted');

  const slugs = new Map<string, number>();
  const uniqueSlug = (title: string): string => {
    const base = slugify(title);
    const seen = slugs.get(base) ?? 0;
    slugs.set(base, seen + 1);
    return seen === 0 ? base : `${base}-${seen + 1}`;
  };
  const rText = Rng.derive(seed, 'text');
  const rDates = Rng.derive(seed, 'dates');
  const makeWeb = (sku: number | string | null, postId: number, title?: string, text?: string): WebProduct => {
    const postGmt = monthStart - rDates.int(30, 4 * 365) * DAY - rDates.int(0, 86_399) * 1000;
    const modifiedGmt = monthStart + rDates.int(0, 27 * 86_400 - 1) * 1000;
    const uploaded = new Date(postGmt + Math.floor(rDates.next() * (monthStart - postGmt)));
    const t = title ?? wineTitle(rText, exportYear);
    return {
      sku,
      skuCell: sku,
      postId,
      title: t,
      slug: uniqueSlug(t),
      excerpt: text ?? excerpt(rText),
      author: 2,
      postGmt,
      modifiedGmt,
      totalSales: sales(rDates),
      upload: `${uploaded.getUTCFullYear()}/${String(uploaded.getUTCMonth() + 1).padStart(2, '0')}`,
    };
  };

  for (const p of plain) {
    const sku = nextId();
    p.web = makeWeb(sku, sku);
    p.idWeb = sku;
  }
  const giftAmounts = [25, 50, 75, 40, 60, 30, 80, 20, 90, 35];
  gifts.forEach((p, i) => {
    const amount = must(giftAmounts[i % giftAmounts.length], 'gift amount');
    const round = Math.floor(i / giftAmounts.length);
    const sku = `bon-cadeau-${amount}-euros${round === 0 ? '' : `-${round + 1}`}`;
    p.web = makeWeb(
      sku,
      nextId(),
      `Bon cadeau de ${amount}€${round === 0 ? '' : ` (${round + 1})`}`,
      GIFT_CARD_EXCERPT,
    );
    p.web.slug = sku;
    p.idWeb = sku;
    p.priceCents = amount * 100;
    p.stock = 0;
    p.status = 'instock'; // gift cards are never out of stock, whatever the quantity says
  });
  const variantBases = rWeb.sample(plain, variants.length);
  variants.forEach((p, i) => {
    // 'NNNNN-1': a second listing of a product that already has the plain sku NNNNN
    const base = must(variantBases[i], 'variant base').web;
    const sku = `${must(base, 'variant base web').sku}-1`;
    p.web = makeWeb(sku, nextId());
    p.idWeb = sku;
  });

  // padded skus: text with spaces, on both the product and the attachment row
  padded.forEach((p, i) => {
    const w = must(p.web, 'padded web');
    w.skuCell = i % 3 === 0 ? ` ${w.sku}` : i % 3 === 1 ? `${w.sku} ` : `  ${w.sku}  `;
  });
  for (const p of staleOnes) {
    const w = must(p.web, 'stale web');
    w.stale = {
      modifiedGmt: w.modifiedGmt - rDates.int(20, 200) * DAY - rDates.int(0, 86_399) * 1000,
      totalSales: otherSales(rDates, w.totalSales),
    };
  }
  for (const p of author1) must(p.web, 'author web').author = 1;
  paddedLinks.forEach((p, i) => {
    p.idWeb = i % 2 === 0 ? ` ${String(p.idWeb)}` : `${String(p.idWeb)}  `;
  });

  // id_web that match nothing: mostly numbers, some 'NNNNN-1' text
  unmatched.forEach((p, i) => {
    const id = nextId();
    p.idWeb = i < textUnmatched ? `${id}-1` : id;
  });
  const noSku = Array.from({ length: noSkuCount }, () => makeWeb(null, nextId()));

  // premium wines (price z-score > 2), never gift cards
  const rPremium = Rng.derive(seed, 'premium');
  const premiumPool = online.filter((p) => !gifts.includes(p));
  for (const p of rPremium.sample(premiumPool, Math.round(online.length * REF.premium))) {
    p.priceCents = roundPrice(rPremium, 120 + Math.pow(rPremium.next(), 1.5) * 180);
  }

  // ERP defects on products that are not sold online
  const rDefects = Rng.derive(seed, 'erp-defects');
  const offlinePick = rDefects.shuffle(offline.slice());
  const negPrice = take(offlinePick, r(REF.negativePrice, 1), 'negative prices');
  const negStock = take(offlinePick, r(REF.negativeStock, 1), 'negative stock');
  for (const p of negPrice) p.priceCents = -rDefects.int(1, 12) * 100;
  for (const p of negStock) [p.stock, p.status] = [-rDefects.int(1, 3), 'outofstock'];
  const mismatchPool = products.filter((p) => p.stock >= 0 && !gifts.includes(p));
  const mismatches = rDefects.sample(mismatchPool, r(REF.statusMismatch, 1));
  for (const p of mismatches) p.status = p.status === 'instock' ? 'outofstock' : 'instock';

  // --- row orders ------------------------------------------------------------
  const rRows = Rng.derive(seed, 'rows');
  const web: WebRow[] = [];
  for (const p of online) {
    const w = must(p.web, 'online web');
    web.push({ kind: 'product', w }, { kind: 'attachment', w });
    if (w.stale) web.push({ kind: 'stale', w });
  }
  for (const w of noSku) web.push({ kind: 'product', w });
  const blankRows = r(REF.blankRows);
  for (let i = 0; i < blankRows; i++) web.push({ kind: 'blank' });
  rRows.shuffle(web);

  // the stale row comes after the fresh one for half the skus, so "keep last" is wrong too
  staleOnes.forEach((p, i) => {
    const fresh = web.findIndex((row) => row.kind === 'product' && row.w === p.web);
    const stale = web.findIndex((row) => row.kind === 'stale' && row.w === p.web);
    const wantStaleAfter = i % 2 === 0;
    if (stale > fresh !== wantStaleAfter) {
      const tmp = must(web[fresh], 'fresh row');
      web[fresh] = must(web[stale], 'stale row');
      web[stale] = tmp;
    }
  });
  webDupSources.forEach((p, i) => {
    const w = must(p.web, 'dup web');
    web.splice(rRows.int(0, web.length), 0, { kind: i % 2 === 0 ? 'product' : 'attachment', w });
  });

  const withDuplicates = (count: number, label: string): Product[] => {
    const rDup = Rng.derive(seed, label);
    const dups = new Set(rDup.sample(products, count));
    const out: Product[] = [];
    for (const p of products) {
      out.push(p);
      if (dups.has(p)) out.push(p); // exported twice, back to back
    }
    return out;
  };
  const erpOrder = withDuplicates(r(REF.erpDuplicates, 1), 'erp-duplicates');
  const liaisonOrder = withDuplicates(r(REF.liaisonDuplicates, 1), 'liaison-duplicates');

  // --- ground truth ------------------------------------------------------------
  const prices = online.map((p) => p.priceCents / 100);
  const mean = prices.reduce((s, x) => s + x, 0) / prices.length;
  const sd = Math.sqrt(prices.reduce((s, x) => s + (x - mean) ** 2, 0) / (prices.length - 1));
  const premium = prices.filter((x) => (x - mean) / sd > 2).length;
  const revenueCents = online.reduce((s, p) => s + p.priceCents * must(p.web, 'web').totalSales, 0);

  return {
    products,
    erpOrder,
    liaisonOrder,
    web,
    monthStart,
    expected: {
      erpRowsClean: n,
      webRowsClean: online.length,
      liaisonRowsClean: n,
      mergedRows: online.length,
      revenue: revenueCents / 100,
      premium,
      ordinary: online.length - premium,
    },
    anomalies: {
      webAttachmentRows: online.length + webDupSources.filter((_, i) => i % 2 === 1).length,
      webBlankRows: blankRows,
      webProductRowsWithoutSku: noSku.length,
      nonNumericSkus: gifts.length + variants.length,
      paddedWebSkus: padded.length,
      staleWebSkus: staleOnes.length,
      webExactDuplicates: webDupSources.length,
      erpExactDuplicates: erpOrder.length - n,
      liaisonExactDuplicates: liaisonOrder.length - n,
      emptyIdWeb: offline.length + unlinked.length,
      unmatchedIdWeb: unmatched.length,
      paddedIdWeb: paddedLinks.length,
      negativePrice: negPrice.length,
      negativeStock: negStock.length,
      stockStatusMismatch: mismatches.length + gifts.length,
    },
  };
}

function webValues(row: WebRow): Cell[] {
  if (row.kind === 'blank') return [null, 0, 0, 0];
  const { w } = row;
  const modified = row.kind === 'stale' ? must(w.stale, 'stale').modifiedGmt : w.modifiedGmt;
  const totalSales = row.kind === 'stale' ? must(w.stale, 'stale').totalSales : w.totalSales;
  const product = row.kind !== 'attachment';
  return [
    w.skuCell,
    0, // virtual
    0, // downloadable
    0, // rating_count
    0, // average_rating
    totalSales,
    product ? 'taxable' : null,
    null, // tax_class
    w.author,
    wallClock(w.postGmt),
    new Date(w.postGmt),
    null, // post_content
    w.title,
    product ? w.excerpt : null,
    'publish',
    'closed',
    'closed',
    null, // post_password
    w.slug,
    wallClock(modified),
    new Date(modified),
    null, // post_content_filtered
    0, // post_parent
    product ? `${SITE}/?post_type=product&#038;p=${w.postId}` : `${SITE}/wp-content/uploads/${w.upload}/${w.slug}.jpg`,
    0, // menu_order
    product ? 'product' : 'attachment',
    product ? null : 'image/jpeg',
    0, // comment_count
  ];
}

const erpValues = (p: Product): Cell[] => [p.productId, p.onsale, p.priceCents / 100, p.stock, p.status];
const liaisonValues = (p: Product): Cell[] => (p.idWeb === null ? [p.productId] : [p.productId, p.idWeb]);

/** Stream rows through exceljs's WorkbookWriter, then make the zip reproducible. */
async function writeWorkbook(
  file: string,
  header: readonly string[],
  rows: Iterable<Cell[]>,
  modified: Date,
): Promise<number> {
  const chunks: Buffer[] = [];
  const sink = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      chunks.push(chunk);
      callback();
    },
  });
  const wb = new ExcelJS.stream.xlsx.WorkbookWriter({ stream: sink, useSharedStrings: true, useStyles: false });
  wb.creator = 'BottleNeck';
  wb.lastModifiedBy = 'BottleNeck';
  wb.created = new Date(Date.UTC(2018, 0, 1, 9, 0, 0));
  wb.modified = modified;
  const ws = wb.addWorksheet('Sheet1');
  ws.addRow([...header]).commit();
  let count = 0;
  for (const values of rows) {
    ws.addRow(values).commit();
    // let archiver drain the worksheet stream now and then, so memory stays flat
    if (++count % 2000 === 0) await new Promise<void>((resolve) => setImmediate(resolve));
  }
  ws.commit();
  await wb.commit();
  await writeFile(file, normalizeZip(Buffer.concat(chunks)));
  return count;
}

function* mapRows<T>(items: readonly T[], f: (item: T) => Cell[]): Generator<Cell[]> {
  for (const item of items) yield f(item);
}

/** Write one synthetic month (erp.xlsx, web.xlsx, liaison.xlsx) into `opts.outDir`. */
export async function generateMonth(opts: GenerateOptions): Promise<GeneratedMonth> {
  const scale = opts.scale ?? 1;
  const seed = opts.seed ?? 1;
  if (!Number.isFinite(scale) || scale <= 0) throw new RangeError(`scale must be a positive number, got ${scale}`);
  if (!Number.isSafeInteger(seed)) throw new RangeError(`seed must be an integer, got ${seed}`);

  const p = plan(scale, seed);
  const outDir = path.resolve(opts.outDir);
  await mkdir(outDir, { recursive: true });
  const files = {
    erp: path.join(outDir, 'erp.xlsx'),
    web: path.join(outDir, 'web.xlsx'),
    liaison: path.join(outDir, 'liaison.xlsx'),
  };
  // the exports are saved a few days after the month's web activity
  const modified = new Date(p.monthStart + 31 * DAY + 10 * 3_600_000);
  const [erpRows, webRows, liaisonRows] = await Promise.all([
    writeWorkbook(files.erp, ERP_COLUMNS, mapRows(p.erpOrder, erpValues), modified),
    writeWorkbook(files.web, WEB_COLUMNS, mapRows(p.web, webValues), modified),
    writeWorkbook(files.liaison, LIAISON_COLUMNS, mapRows(p.liaisonOrder, liaisonValues), modified),
  ]);
  return {
    files,
    products: p.products.length,
    webRows,
    erpRows,
    liaisonRows,
    expected: p.expected,
    anomalies: p.anomalies,
  };
}
