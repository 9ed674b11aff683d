-- Cross-asset checks of the validation gate, over the three cleaned assets.
SELECT
  (SELECT coalesce(list(l.id_web ORDER BY l.id_web), [])
     FROM liaison_clean l LEFT JOIN web_clean w ON w.sku = l.id_web
     WHERE l.id_web IS NOT NULL AND w.sku IS NULL) AS id_web_without_web_product,
  (SELECT coalesce(list(e.product_id ORDER BY e.product_id), [])
     FROM erp_clean e LEFT JOIN liaison_clean l USING (product_id)
     WHERE e.onsale_web = 1 AND l.product_id IS NULL) AS onsale_without_liaison;
