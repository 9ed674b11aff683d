-- The total revenue of the merged rows, exact, to the cent: recorded with the materialization.
SELECT coalesce(sum(revenue), 0)::DECIMAL(38,2)::VARCHAR AS total_revenue FROM merged_with_revenue;
