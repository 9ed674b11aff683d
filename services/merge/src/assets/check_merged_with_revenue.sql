-- The checks of merged_with_revenue. expected_rows counts the web products that have an ERP
-- match, computed independently of the join above.
SELECT
  (SELECT count(*) FROM merged_with_revenue)::INTEGER AS merged_rows,
  (SELECT count(*) FROM merged_with_revenue WHERE revenue IS NULL)::INTEGER AS null_revenue,
  (SELECT count(*) - count(DISTINCT product_id) FROM merged_with_revenue)::INTEGER AS duplicate_product_ids,
  (SELECT count(*) - count(DISTINCT sku) FROM merged_with_revenue)::INTEGER AS duplicate_skus,
  (SELECT count(*) FROM web_clean w
     WHERE EXISTS (SELECT 1 FROM liaison_clean l JOIN erp_clean e USING (product_id) WHERE l.id_web = w.sku))::INTEGER AS expected_rows,
  (SELECT coalesce(sum(revenue), 0)::DECIMAL(38,2)::VARCHAR FROM merged_with_revenue) AS total_revenue;
