-- Products that appeared (this month, not the previous published one) and disappeared (the other way):
-- passes while both together are at most $max_churn_pct percent of the previous month's products
-- (exactly at it passes). Lists the first ten of each, by product_id.
WITH cur AS (SELECT DISTINCT product_id::VARCHAR AS product_id FROM merged_with_revenue),
prev AS (SELECT DISTINCT product_id FROM previous_month),
appeared AS (SELECT product_id FROM cur EXCEPT SELECT product_id FROM prev),
gone AS (SELECT product_id FROM prev EXCEPT SELECT product_id FROM cur),
n AS (
  SELECT
    (SELECT count(*)::INTEGER FROM appeared) AS appeared,
    (SELECT count(*)::INTEGER FROM gone) AS gone,
    (SELECT count(*)::INTEGER FROM prev) AS previous
)
SELECT
  CASE
    WHEN n.previous = 0 THEN n.appeared = 0
    ELSE (n.appeared + n.gone) * 100 <= $max_churn_pct::DECIMAL(18,4) * n.previous
  END AS passed,
  n.appeared AS appeared_count,
  n.gone AS disappeared_count,
  n.previous AS previous_count,
  coalesce((SELECT list(product_id ORDER BY TRY_CAST(product_id AS BIGINT) NULLS LAST, product_id)[1:10] FROM appeared), []) AS appeared,
  coalesce((SELECT list(product_id ORDER BY TRY_CAST(product_id AS BIGINT) NULLS LAST, product_id)[1:10] FROM gone), []) AS disappeared
FROM n;
