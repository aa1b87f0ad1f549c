-- Per column and reason, how many rows of the quarter's snapshot were cast to NULL.
-- Input: view source_snapshot; parameter $duplicates (rows removed as duplicate pids).
SELECT 'approximate_age' AS column_name, approximate_age_status AS reason, count(*) AS rows
FROM source_snapshot WHERE approximate_age_status <> 'usable' GROUP BY ALL
UNION ALL
SELECT 'birth_year', birth_year_status, count(*)
FROM source_snapshot WHERE birth_year_status <> 'usable' GROUP BY ALL
UNION ALL
SELECT 'pid', 'duplicate', $duplicates WHERE $duplicates > 0
ORDER BY column_name, rows DESC
