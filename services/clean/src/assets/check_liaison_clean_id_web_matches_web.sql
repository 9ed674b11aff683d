-- liaison_clean.id_web_matches_web (validation gate, across liaison_clean and web_clean): liaison
-- rows whose id_web matches no web product.
SELECT count(*) = 0 AS passed, coalesce(list(l.id_web ORDER BY l.id_web), []) AS id_web_without_web_product
FROM liaison_clean l LEFT JOIN web_clean w ON w.sku = l.id_web
WHERE l.id_web IS NOT NULL AND w.sku IS NULL;
