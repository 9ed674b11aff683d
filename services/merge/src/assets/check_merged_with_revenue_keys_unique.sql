-- merged_with_revenue.keys_unique: no product_id and no sku twice.
SELECT duplicate_product_ids = 0 AND duplicate_skus = 0 AS passed, *
FROM (
  SELECT (count(*) - count(DISTINCT product_id))::INTEGER AS duplicate_product_ids,
         (count(*) - count(DISTINCT sku))::INTEGER AS duplicate_skus
  FROM merged_with_revenue
);
