-- The last published month's merged_with_revenue.csv (its pointer names the file), as a table to
-- compare with: text read as text, money as exact decimals. $path: the local copy of the CSV.
CREATE OR REPLACE TEMP TABLE previous_month AS
SELECT
  product_id::VARCHAR AS product_id,
  post_title::VARCHAR AS post_title,
  price::DECIMAL(18,4) AS price,
  revenue::DECIMAL(18,2) AS revenue
FROM read_csv($path, header = true, all_varchar = true);
