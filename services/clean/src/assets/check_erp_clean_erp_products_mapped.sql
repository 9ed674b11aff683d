-- erp_clean.erp_products_mapped (validation gate, across erp_clean and liaison_clean): every ERP
-- product sold online (onsale_web = 1) has a liaison row.
SELECT count(*) = 0 AS passed, coalesce(list(e.product_id ORDER BY e.product_id), []) AS onsale_product_ids_without_liaison
FROM erp_clean e LEFT JOIN liaison_clean l USING (product_id)
WHERE e.onsale_web = 1 AND l.product_id IS NULL;
