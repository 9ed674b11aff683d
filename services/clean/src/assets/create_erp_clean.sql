-- erp_clean: rows without product_id dropped, exact duplicate rows dropped.
-- A product_id still there twice (same id, different data) is left for the product_id_unique check.
CREATE TABLE erp_clean AS
SELECT DISTINCT product_id, onsale_web, price, stock_quantity, stock_status
FROM raw_erp
WHERE product_id IS NOT NULL
ORDER BY ALL;
