-- merged_with_revenue.revenue_not_null: every merged row has a revenue.
SELECT count(*) = 0 AS passed, count(*)::INTEGER AS null_revenue
FROM merged_with_revenue
WHERE revenue IS NULL;
