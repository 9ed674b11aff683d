-- wine_price_zscores: z-score of price over the merged rows, with the sample standard deviation
-- (n - 1). The sums are exact DECIMAL arithmetic and each z is computed from them alone, so the
-- result does not depend on the order DuckDB aggregates in: same inputs, same digits.
CREATE TABLE wine_price_zscores AS
WITH s AS (
  SELECT count(*)::DECIMAL(38,0) AS n, sum(price)::DECIMAL(38,4) AS s1, sum(price * price)::DECIMAL(38,8) AS s2
  FROM merged_with_revenue
), stats AS (
  SELECT n, s1,
    CASE WHEN n > 1 THEN sqrt(((n * s2 - s1 * s1)::DOUBLE) / (n * (n - 1))::DOUBLE) END AS sd
  FROM s
)
SELECT
  m.product_id, m.sku, m.post_title, m.price, m.total_sales, m.revenue, m.stock_status,
  CASE WHEN stats.sd > 0 THEN ((m.price * stats.n - stats.s1)::DOUBLE / stats.n::DOUBLE) / stats.sd END AS z_score,
  regexp_matches(coalesce(m.post_title, ''), '\b(19|20)[0-9]{2}\b') AS is_vintage,
  m.guid
FROM merged_with_revenue m, stats
ORDER BY m.price DESC, m.product_id;
