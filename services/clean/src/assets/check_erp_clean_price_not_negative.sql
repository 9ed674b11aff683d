-- erp_clean.price_not_negative: no negative price.
SELECT count(*) = 0 AS passed, coalesce(list(product_id ORDER BY product_id), []) AS product_ids FROM erp_clean WHERE price < 0;
