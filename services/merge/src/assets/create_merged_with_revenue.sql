-- merged_with_revenue: ERP inner join liaison on product_id, inner join web on id_web = sku
-- (both trimmed text already). Every column once: product_id and sku stand for the join keys.
-- revenue = price x total_sales in DECIMAL arithmetic, rounded to the cent: no float drift.
CREATE TABLE merged_with_revenue AS
SELECT
  e.product_id,
  w.sku,
  e.onsale_web,
  e.price,
  e.stock_quantity,
  e.stock_status,
  w.* EXCLUDE (sku),
  round(e.price * w.total_sales, 2)::DECIMAL(38,2) AS revenue
FROM erp_clean e
JOIN liaison_clean l ON l.product_id = e.product_id
JOIN web_clean w ON w.sku = l.id_web
ORDER BY e.product_id, w.sku;
