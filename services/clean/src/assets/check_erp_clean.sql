-- One row: what the checks of erp_clean need.
SELECT
  count(*) FILTER (WHERE product_id IS NULL)::INTEGER AS null_ids,
  (SELECT coalesce(list(product_id ORDER BY product_id), []) FROM (SELECT product_id FROM erp_clean WHERE product_id IS NOT NULL GROUP BY product_id HAVING count(*) > 1)) AS duplicate_ids,
  (SELECT coalesce(list(product_id ORDER BY product_id), []) FROM erp_clean WHERE price < 0) AS negative_price_ids,
  (SELECT coalesce(list(product_id ORDER BY product_id), []) FROM erp_clean WHERE stock_quantity < 0) AS negative_stock_ids
FROM erp_clean;
