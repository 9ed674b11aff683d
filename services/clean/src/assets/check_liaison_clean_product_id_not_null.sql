-- liaison_clean.product_id_not_null: no null product_id.
SELECT count(*) = 0 AS passed, count(*)::INTEGER AS null_count FROM liaison_clean WHERE product_id IS NULL;
