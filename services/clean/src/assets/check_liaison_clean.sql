SELECT
  count(*) FILTER (WHERE product_id IS NULL)::INTEGER AS null_ids,
  (SELECT coalesce(list(product_id ORDER BY product_id), []) FROM (SELECT product_id FROM liaison_clean WHERE product_id IS NOT NULL GROUP BY product_id HAVING count(*) > 1)) AS duplicate_ids,
  count(*) FILTER (WHERE id_web IS NULL)::INTEGER AS without_id_web
FROM liaison_clean;
