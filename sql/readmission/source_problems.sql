-- source_problems: per column and reason, how many values of the kept rows the silver table turns
-- into NULL, with the smallest such value and a file it came from; and the rows set aside, by reason
-- (example_value NULL: every such value was empty).
-- Input: temp table screened (source_screen.sql); macros code_status, icd9_status.
-- Parameters: $coded (text columns checked against $allowed, a MAP column -> allowed codes; a column
-- without an entry takes any text), $unknown (the codes meaning unknown, such as '?'), $ranges (MAP
-- integer column -> [lowest, highest]). Reasons: missing, unknown, not_allowed, out_of_range,
-- unparseable_icd9, and for set-aside rows those of source_screen.sql.
WITH kept AS (
    SELECT * FROM screened WHERE reject_reason IS NULL
),
coded_wide AS (
    SELECT source_file, coalesce(COLUMNS(lambda c: list_contains($coded, c)), '') FROM kept
),
coded_long AS (
    SELECT * FROM (UNPIVOT coded_wide ON COLUMNS(* EXCLUDE source_file) INTO NAME column_name VALUE value)
),
integer_wide AS (
    SELECT source_file, COLUMNS(lambda c: list_contains(map_keys($ranges), c)) FROM kept
),
integer_long AS (
    SELECT * FROM (UNPIVOT integer_wide ON COLUMNS(* EXCLUDE source_file) INTO NAME column_name VALUE value)
),
diag_long AS (
    SELECT * FROM (UNPIVOT (SELECT source_file, coalesce(COLUMNS('^diag_[123]$'), '') FROM kept)
                   ON COLUMNS(* EXCLUDE source_file) INTO NAME column_name VALUE value)
),
problems AS (
    SELECT column_name, code_status(value, $allowed[column_name], $unknown) AS reason, value, source_file
    FROM coded_long
    UNION ALL
    SELECT column_name, 'out_of_range', CAST(value AS VARCHAR), source_file
    FROM integer_long
    WHERE value NOT BETWEEN $ranges[column_name][1] AND $ranges[column_name][2]
    UNION ALL
    SELECT column_name, CASE icd9_status(value) WHEN 'unparseable' THEN 'unparseable_icd9'
                             WHEN 'unknown' THEN CASE WHEN trim(value) = '' THEN 'missing' ELSE 'unknown' END END,
           value, source_file
    FROM diag_long
    UNION ALL
    SELECT CASE reject_reason WHEN 'duplicate' THEN 'encounter_id' WHEN 'missing_patient' THEN 'patient_nbr'
                ELSE 'encounter_date' END,
           reject_reason,
           CASE reject_reason WHEN 'duplicate' THEN CAST(encounter_id AS VARCHAR)
                              WHEN 'missing_patient' THEN patient_nbr_as_delivered
                              ELSE encounter_date_as_delivered END,
           source_file
    FROM screened
    WHERE reject_reason IS NOT NULL
)
SELECT column_name, reason, count(*) AS rows, min(value) AS example_value,
       coalesce(arg_min(source_file, value), min(source_file)) AS example_file
FROM problems
WHERE reason IS NOT NULL AND reason <> 'ok'
GROUP BY ALL
ORDER BY column_name, reason
