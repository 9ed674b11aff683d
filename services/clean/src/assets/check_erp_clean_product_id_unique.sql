-- erp_clean.product_id_unique: no product_id twice (same id, different data: exact duplicates are gone).
SELECT count(*) = 0 AS passed, coalesce(list(product_id ORDER BY product_id), []) AS duplicate_product_ids
FROM (SELECT product_id FROM erp_clean WHERE product_id IS NOT NULL GROUP BY product_id HAVING count(*) > 1);
