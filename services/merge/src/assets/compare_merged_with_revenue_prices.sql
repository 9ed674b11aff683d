-- Products in both months whose price moved by more than $ratio times, up or down (exactly $ratio
-- times passes); prices that are not positive in either month are not compared. The largest moves first.
WITH moved AS (
  SELECT
    c.product_id::VARCHAR AS product_id,
    c.post_title::VARCHAR AS title,
    p.price AS previous_price,
    c.price AS price,
    greatest(c.price / p.price, p.price / c.price) AS factor
  FROM merged_with_revenue c
  JOIN previous_month p ON p.product_id = c.product_id::VARCHAR
  WHERE c.price > 0 AND p.price > 0
    AND (c.price > p.price * $ratio::DECIMAL(18,4) OR p.price > c.price * $ratio::DECIMAL(18,4))
)
SELECT
  count(*) = 0 AS passed,
  count(*)::INTEGER AS moved_count,
  coalesce(
    list(
      {
        'productId': product_id,
        'title': title,
        'previousPrice': previous_price::DECIMAL(18,2)::VARCHAR,
        'price': price::DECIMAL(18,2)::VARCHAR
      }
      ORDER BY factor DESC, TRY_CAST(product_id AS BIGINT) NULLS LAST, product_id
    ) FILTER (WHERE product_id IS NOT NULL),
    []
  )[1:10] AS moved
FROM moved;
