SELECT product_id, sku, post_title, total_sales, revenue::VARCHAR AS revenue
FROM revenue_per_product
ORDER BY revenue_per_product.revenue DESC, product_id;
