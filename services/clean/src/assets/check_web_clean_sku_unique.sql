-- web_clean.sku_unique: no sku twice after keeping the latest post_modified.
SELECT count(*) = 0 AS passed, coalesce(list(sku ORDER BY sku), []) AS duplicate_skus
FROM (SELECT sku FROM web_clean GROUP BY sku HAVING count(*) > 1);
