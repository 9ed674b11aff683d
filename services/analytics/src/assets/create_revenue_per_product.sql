-- revenue_per_product: revenue per product, by revenue descending, ties by product_id.
CREATE TABLE revenue_per_product AS
SELECT product_id, sku, post_title, sum(total_sales)::BIGINT AS total_sales, sum(revenue)::DECIMAL(38,2) AS revenue
FROM merged_with_revenue
GROUP BY product_id, sku, post_title
ORDER BY revenue DESC, product_id;
