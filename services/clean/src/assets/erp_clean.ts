import { defineAsset, errorCheck, warnCheck } from '@bottleneck/shared/assets/define';
import { counted, foundItems } from '@bottleneck/shared/stage/checks';
import { cleanWorkbook, expectedSheetPresent } from './clean.js';

/** ERP rows with a product_id, exact duplicates dropped. */
export const erpClean = defineAsset({
  key: 'erp_clean',
  deps: ['raw_erp'],
  kind: 'table',
  module: import.meta.url,
  description: 'ERP rows with a product_id, exact duplicates dropped',
  checks: [
    errorCheck('product_id_not_null', 'no null product_id', {
      sql: 'check_erp_clean_product_id_not_null',
      found: (m) => `${counted(Number(m.nullCount), 'row has', 'rows have')} no product_id`,
    }),
    errorCheck('product_id_unique', 'no product_id twice (same id, different data)', {
      sql: 'check_erp_clean_product_id_unique',
      found: (m) =>
        foundItems(m.duplicateProductIds, 'product_id appears', 'product_ids appear', 'twice with different data'),
    }),
    warnCheck('price_not_negative', 'no negative price', {
      sql: 'check_erp_clean_price_not_negative',
      found: (m) => foundItems(m.productIds, 'product has', 'products have', 'a negative price'),
    }),
    warnCheck('stock_not_negative', 'no negative stock_quantity', {
      sql: 'check_erp_clean_stock_not_negative',
      found: (m) => foundItems(m.productIds, 'product has', 'products have', 'a negative stock_quantity'),
    }),
    // Part of the validation gate: a cross-asset check, run once liaison_clean is there too.
    warnCheck('erp_products_mapped', 'every ERP product sold online (onsale_web = 1) has a liaison row', {
      deps: ['liaison_clean'],
      sql: 'check_erp_clean_erp_products_mapped',
      found: (m) =>
        foundItems(
          m.onsaleProductIdsWithoutLiaison,
          'ERP product on sale online has',
          'ERP products on sale online have',
          'no liaison row',
        ),
    }),
    warnCheck(
      'expected_sheet_present',
      'the export has the expected sheet (Sheet1); without it, its only worksheet is read and named here',
      { run: expectedSheetPresent },
    ),
  ],
  compute: (ctx) => cleanWorkbook(ctx, 'erp'),
});
