SELECT
  (SELECT count(*) FROM web_clean WHERE sku IS NULL)::INTEGER AS null_skus,
  (SELECT coalesce(list(sku ORDER BY sku), []) FROM (SELECT sku FROM web_clean GROUP BY sku HAVING count(*) > 1)) AS duplicate_skus,
  (SELECT coalesce(list({'sku': sku, 'row': _row, 'post_modified': strftime(post_modified, '%Y-%m-%d %H:%M:%S')} ORDER BY sku, _row), [])
     FROM web_ranked WHERE _rank > 1) AS older_versions_dropped;
