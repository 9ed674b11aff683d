-- The number of products against the previous published month: passes while the change is at most
-- $max_change_pct percent of the previous count (exactly at it passes).
WITH cur AS (SELECT count(*)::INTEGER AS n FROM merged_with_revenue),
prev AS (SELECT count(*)::INTEGER AS n FROM previous_month)
SELECT
  CASE
    WHEN prev.n = 0 THEN cur.n = 0
    ELSE abs(cur.n - prev.n) * 100 <= $max_change_pct::DECIMAL(18,4) * prev.n
  END AS passed,
  prev.n AS previous_count,
  cur.n AS current_count,
  CASE WHEN prev.n = 0 THEN NULL ELSE round((cur.n - prev.n) * 100.0 / prev.n, 1)::VARCHAR END AS change_pct
FROM cur, prev;
