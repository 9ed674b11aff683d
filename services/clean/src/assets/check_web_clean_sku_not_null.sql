-- web_clean.sku_not_null: no null sku.
SELECT count(*) = 0 AS passed, count(*)::INTEGER AS null_count FROM web_clean WHERE sku IS NULL;
