-- web_ranked: product rows (post_type = product) with a sku, keys trimmed, exact duplicates
-- collapsed (keeping the first row number), then ranked per sku by post_modified, newest first.
CREATE TABLE web_ranked AS
WITH products AS (
  SELECT * REPLACE (trim(sku) AS sku)
  FROM raw_web
  WHERE nullif(trim(sku), '') IS NOT NULL AND trim(post_type) = 'product'
), distinct_rows AS (
  SELECT * EXCLUDE (_row), min(_row) AS _row
  FROM products
  GROUP BY ALL
)
SELECT *, row_number() OVER (PARTITION BY sku ORDER BY post_modified DESC NULLS LAST, _row) AS _rank
FROM distinct_rows;

-- web_clean: the latest version of each sku.
CREATE TABLE web_clean AS
SELECT * EXCLUDE (_row, _rank) FROM web_ranked WHERE _rank = 1 ORDER BY sku;
