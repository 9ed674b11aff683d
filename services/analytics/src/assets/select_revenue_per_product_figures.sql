-- Figures recorded with revenue_per_product: the total revenue and the units sold, exact.
SELECT coalesce(sum(revenue), 0)::DECIMAL(38,2)::VARCHAR AS total_revenue,
       coalesce(sum(total_sales), 0)::BIGINT::VARCHAR AS units_sold
FROM revenue_per_product;
