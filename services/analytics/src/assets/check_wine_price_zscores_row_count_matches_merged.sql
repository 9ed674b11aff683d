-- wine_price_zscores.row_count_matches_merged: one z-score per merged row.
SELECT zscore_rows = merged_rows AS passed, *
FROM (
  SELECT (SELECT count(*) FROM wine_price_zscores)::INTEGER AS zscore_rows,
         (SELECT count(*) FROM merged_with_revenue)::INTEGER AS merged_rows
);
