-- premium_wines / ordinary_wines: premium when z > 2. Price to the cent, z to six decimals.
SELECT product_id, sku, post_title, price::DECIMAL(18,2) AS price, total_sales, revenue, stock_status,
  round(z_score, 6) AS z_score, is_vintage, guid
FROM wine_price_zscores
WHERE (coalesce(z_score, 0) > $threshold) = $premium
ORDER BY price DESC, product_id;
