-- merged_with_revenue.row_count_matches_web: merged rows = web products that have an ERP match,
-- counted independently of the join that made the table.
SELECT merged_rows = web_products_with_erp_match AS passed, *
FROM (
  SELECT (SELECT count(*) FROM merged_with_revenue)::INTEGER AS merged_rows,
         (SELECT count(*) FROM web_clean w
            WHERE EXISTS (SELECT 1 FROM liaison_clean l JOIN erp_clean e USING (product_id) WHERE l.id_web = w.sku))::INTEGER AS web_products_with_erp_match
);
