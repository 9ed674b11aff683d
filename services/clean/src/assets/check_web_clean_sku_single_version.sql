-- web_clean.sku_single_version: no sku had two product rows; the older versions dropped are listed.
SELECT count(*) = 0 AS passed,
  coalesce(list({'sku': sku, 'row': _row, 'post_modified': strftime(post_modified, '%Y-%m-%d %H:%M:%S')} ORDER BY sku, _row), []) AS older_versions_dropped,
  'kept the most recent post_modified' AS rule
FROM web_ranked WHERE _rank > 1;
