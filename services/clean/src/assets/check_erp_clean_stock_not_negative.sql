-- erp_clean.stock_not_negative: no negative stock_quantity.
SELECT count(*) = 0 AS passed, coalesce(list(product_id ORDER BY product_id), []) AS product_ids FROM erp_clean WHERE stock_quantity < 0;
