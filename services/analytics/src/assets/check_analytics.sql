SELECT
  (SELECT coalesce(sum(revenue), 0)::DECIMAL(38,2)::VARCHAR FROM merged_with_revenue) AS merged_total,
  (SELECT coalesce(sum(revenue), 0)::DECIMAL(38,2)::VARCHAR FROM revenue_per_product) AS per_product_total,
  (SELECT count(*) FROM merged_with_revenue)::INTEGER AS merged_rows,
  (SELECT count(*) FROM wine_price_zscores)::INTEGER AS zscore_rows,
  (SELECT coalesce(sum(total_sales), 0)::BIGINT::VARCHAR FROM revenue_per_product) AS units_sold;
