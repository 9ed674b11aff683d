-- The published CSV of merged_with_revenue: fixed order, timestamps to the second.
SELECT * REPLACE (
  strftime(post_date, '%Y-%m-%d %H:%M:%S') AS post_date,
  strftime(post_date_gmt, '%Y-%m-%d %H:%M:%S') AS post_date_gmt,
  strftime(post_modified, '%Y-%m-%d %H:%M:%S') AS post_modified,
  strftime(post_modified_gmt, '%Y-%m-%d %H:%M:%S') AS post_modified_gmt,
  price::DECIMAL(18,2) AS price
)
FROM merged_with_revenue
ORDER BY product_id, sku;
