-- Total revenue against the previous published month: passes while the change is at most
-- $max_change_pct percent of the previous total (exactly at it passes). Exact decimals throughout.
WITH cur AS (SELECT coalesce(sum(revenue), 0)::DECIMAL(38,2) AS total FROM merged_with_revenue),
prev AS (SELECT coalesce(sum(revenue), 0)::DECIMAL(38,2) AS total FROM previous_month)
SELECT
  CASE
    WHEN prev.total = 0 THEN cur.total = 0
    ELSE abs(cur.total - prev.total) * 100 <= $max_change_pct::DECIMAL(18,4) * prev.total
  END AS passed,
  prev.total::VARCHAR AS previous_total,
  cur.total::VARCHAR AS current_total,
  CASE WHEN prev.total = 0 THEN NULL ELSE round((cur.total - prev.total) * 100 / prev.total, 1)::VARCHAR END
    AS change_pct
FROM cur, prev;
