import { defineAsset, errorCheck, warnCheck } from '@bottleneck/shared/assets/define';
import { counted, foundItems } from '@bottleneck/shared/stage/checks';
import { cleanWorkbook, expectedSheetPresent } from './clean.js';

/** The ERP-web mapping, exact duplicates dropped, rows without id_web kept (products not sold online). */
export const liaisonClean = defineAsset({
  key: 'liaison_clean',
  deps: ['raw_liaison'],
  kind: 'table',
  module: import.meta.url,
  description: 'ERP-web mapping, exact duplicates dropped, rows without id_web kept',
  checks: [
    errorCheck('product_id_not_null', 'no null product_id', {
      sql: 'check_liaison_clean_product_id_not_null',
      found: (m) => `${counted(Number(m.nullCount), 'liaison row has', 'liaison rows have')} no product_id`,
    }),
    errorCheck('product_id_unique', 'no product_id mapped twice', {
      sql: 'check_liaison_clean_product_id_unique',
      found: (m) => foundItems(m.duplicateProductIds, 'product_id is', 'product_ids are', 'mapped twice'),
    }),
    // Part of the validation gate: a cross-asset check, run once web_clean is there too.
    warnCheck('id_web_matches_web', 'every id_web names a web product', {
      deps: ['web_clean'],
      sql: 'check_liaison_clean_id_web_matches_web',
      found: (m) =>
        foundItems(m.idWebWithoutWebProduct, 'liaison id_web names', 'liaison id_webs name', 'no web product'),
    }),
    warnCheck(
      'expected_sheet_present',
      'the export has the expected sheet (Sheet1); without it, its only worksheet is read and named here',
      { run: expectedSheetPresent },
    ),
  ],
  compute: (ctx) => cleanWorkbook(ctx, 'liaison'),
});
