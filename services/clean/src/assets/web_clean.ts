import { defineAsset, errorCheck, warnCheck } from '@bottleneck/shared/assets/define';
import { counted, foundItems, itemsOf, listed } from '@bottleneck/shared/stage/checks';
import { cleanWorkbook, expectedSheetPresent } from './clean.js';

/** Web products (post_type = product, sku present), exact duplicates dropped, latest post_modified kept per sku. */
export const webClean = defineAsset({
  key: 'web_clean',
  deps: ['raw_web'],
  kind: 'table',
  module: import.meta.url,
  description:
    'web products (post_type = product, sku present), exact duplicates dropped, latest post_modified kept per sku',
  checks: [
    errorCheck('sku_not_null', 'no null sku', {
      sql: 'check_web_clean_sku_not_null',
      found: (m) => `${counted(Number(m.nullCount), 'web product has', 'web products have')} no sku`,
    }),
    errorCheck('sku_unique', 'no sku twice after keeping the latest post_modified', {
      sql: 'check_web_clean_sku_unique',
      found: (m) => foundItems(m.duplicateSkus, 'sku appears', 'skus appear', 'more than once'),
    }),
    warnCheck('sku_single_version', 'no sku had two product rows (the dropped older versions are listed)', {
      sql: 'check_web_clean_sku_single_version',
      found: (m) => {
        const older = itemsOf(m.olderVersionsDropped) as { sku?: unknown; row?: unknown; post_modified?: unknown }[];
        const versions = older.map((o) => `${String(o.sku)} (row ${String(o.row)}, ${String(o.post_modified)})`);
        return `${counted(older.length, 'older product row was', 'older product rows were')} dropped, keeping each sku's most recent post_modified: ${listed(versions)}`;
      },
    }),
    warnCheck(
      'expected_sheet_present',
      'the export has the expected sheet (Sheet1); without it, its only worksheet is read and named here',
      { run: expectedSheetPresent },
    ),
  ],
  compute: (ctx) => cleanWorkbook(ctx, 'web'),
});
