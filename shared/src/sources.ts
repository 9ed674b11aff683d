import type { InputName } from './keys.js';

export type ColumnType = 'int' | 'decimal' | 'double' | 'text' | 'timestamp';

export interface ColumnSpec {
  name: string;
  type: ColumnType;
  /** DuckDB type of the column once read. */
  sql: string;
}

/** What one input workbook must hold: the sheet and its columns (header row), with their types. */
export interface SourceSpec {
  name: InputName;
  file: string;
  sheet: string;
  columns: readonly ColumnSpec[];
}

const int = (name: string): ColumnSpec => ({ name, type: 'int', sql: 'BIGINT' });
const text = (name: string): ColumnSpec => ({ name, type: 'text', sql: 'VARCHAR' });
const ts = (name: string): ColumnSpec => ({ name, type: 'timestamp', sql: 'TIMESTAMP' });

/** Money has at most four decimals on input; revenue is rounded to the cent. */
export const PRICE_SQL_TYPE = 'DECIMAL(18,4)';

export const SOURCES: Readonly<Record<InputName, SourceSpec>> = {
  erp: {
    name: 'erp',
    file: 'erp.xlsx',
    sheet: 'Sheet1',
    columns: [
      int('product_id'),
      int('onsale_web'),
      { name: 'price', type: 'decimal', sql: PRICE_SQL_TYPE },
      int('stock_quantity'),
      text('stock_status'),
    ],
  },
  web: {
    name: 'web',
    file: 'web.xlsx',
    sheet: 'Sheet1',
    columns: [
      text('sku'),
      int('virtual'),
      int('downloadable'),
      int('rating_count'),
      { name: 'average_rating', type: 'double', sql: 'DOUBLE' },
      int('total_sales'),
      text('tax_status'),
      text('tax_class'),
      int('post_author'),
      ts('post_date'),
      ts('post_date_gmt'),
      text('post_content'),
      text('post_title'),
      text('post_excerpt'),
      text('post_status'),
      text('comment_status'),
      text('ping_status'),
      text('post_password'),
      text('post_name'),
      ts('post_modified'),
      ts('post_modified_gmt'),
      text('post_content_filtered'),
      int('post_parent'),
      text('guid'),
      int('menu_order'),
      text('post_type'),
      text('post_mime_type'),
      int('comment_count'),
    ],
  },
  liaison: {
    name: 'liaison',
    file: 'liaison.xlsx',
    sheet: 'Sheet1',
    columns: [int('product_id'), text('id_web')],
  },
};
