-- revenue_per_product.total_revenue_preserved: the aggregation loses nothing.
SELECT merged_total = per_product_total AS passed, *
FROM (
  SELECT (SELECT coalesce(sum(revenue), 0)::DECIMAL(38,2)::VARCHAR FROM merged_with_revenue) AS merged_total,
         (SELECT coalesce(sum(revenue), 0)::DECIMAL(38,2)::VARCHAR FROM revenue_per_product) AS per_product_total
);
