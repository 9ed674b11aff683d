-- liaison_clean: keys as trimmed text, exact duplicate rows dropped; rows without id_web kept
-- (products not sold online).
CREATE TABLE liaison_clean AS
SELECT DISTINCT product_id, nullif(trim(id_web), '') AS id_web
FROM raw_liaison
ORDER BY ALL;
