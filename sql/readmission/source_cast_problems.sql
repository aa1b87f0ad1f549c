-- source_cast_problems: per typed column, the delivered values that are not of the column's type
-- (silver turns them into NULL), counted over every delivered row, with the smallest such value and
-- a file it came from. Input: view raw_files; macro not_of_kind (source_macros.sql). Parameters:
-- $integers, $bigints, $dates (the columns of each type). Reasons: not_a_integer, not_a_bigint, not_a_date.
WITH wide AS (
    SELECT
        filename AS source_file,
        not_of_kind(COLUMNS(lambda c: list_contains($integers, c)), 'INTEGER'),
        not_of_kind(COLUMNS(lambda c: list_contains($bigints, c)), 'BIGINT'),
        not_of_kind(COLUMNS(lambda c: list_contains($dates, c)), 'DATE')
    FROM raw_files
),
bad AS (
    SELECT * FROM (UNPIVOT wide ON COLUMNS(* EXCLUDE source_file) INTO NAME column_name VALUE value)
)
SELECT
    column_name,
    'not_a_' || CASE WHEN list_contains($integers, column_name) THEN 'integer'
                     WHEN list_contains($bigints, column_name) THEN 'bigint' ELSE 'date' END AS reason,
    count(*) AS rows,
    min(value) AS example_value,
    arg_min(source_file, value) AS example_file
FROM bad
GROUP BY ALL
ORDER BY column_name
