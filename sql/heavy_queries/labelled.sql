-- labelled: a day's query log typed, labelled heavy or not, with the reason a row is filtered out.
-- Input: view raw_log (the delivery as read, with filename and file_row_number).
-- heavy: CPU >= $cpu_ms, or peak memory > $peak_memory_bytes, or a resource error ($resource_errors).
-- filter_reason is NULL for rows kept; otherwise the first reason that applies, so every row
-- that leaves is counted under exactly one reason. Duplicates of a query_id keep the earliest run.
-- $day is the delivered day (NULL: no check): a row created on another day is set aside
-- (outside_delivered_day), never filed under the day its create_time names.
WITH typed AS (
    SELECT
        CAST(query_id AS VARCHAR) AS query_id,
        CAST("user" AS VARCHAR) AS "user",
        lower(trim(CAST(source AS VARCHAR))) AS source,
        CAST(catalog AS VARCHAR) AS catalog,
        lower(trim(CAST("schema" AS VARCHAR))) AS "schema",
        upper(trim(CAST(query_type AS VARCHAR))) AS query_type,
        CAST(query AS VARCHAR) AS query,
        TRY_CAST(create_time AS TIMESTAMP) AS create_time,
        TRY_CAST(cpu_time_ms AS BIGINT) AS cpu_time_ms,
        TRY_CAST(wall_time_ms AS BIGINT) AS wall_time_ms,
        TRY_CAST(peak_memory_bytes AS BIGINT) AS peak_memory_bytes,
        NULLIF(upper(trim(CAST(error_type AS VARCHAR))), '') AS error_type,
        TRY_CAST(curated AS BOOLEAN) AS curated,
        filename AS source_file,
        file_row_number AS source_row
    FROM raw_log
),
flagged AS (
    SELECT
        *,
        coalesce(cpu_time_ms >= $cpu_ms, false) AS heavy_cpu,
        coalesce(peak_memory_bytes > $peak_memory_bytes, false) AS heavy_memory,
        coalesce(list_contains($resource_errors, error_type), false) AS heavy_error,
        row_number() OVER (PARTITION BY query_id ORDER BY create_time, source_file, source_row) AS copy
    FROM typed
)
SELECT
    * EXCLUDE (copy),
    heavy_cpu OR heavy_memory OR heavy_error AS heavy,
    CASE WHEN heavy_error THEN 'resource_error' WHEN heavy_cpu THEN 'cpu' WHEN heavy_memory THEN 'memory' END AS heavy_reason,
    CAST(create_time AS DATE) AS day,
    CASE
        WHEN query_id IS NULL OR query IS NULL OR trim(query) = '' OR create_time IS NULL THEN 'missing_required'
        WHEN CAST(create_time AS DATE) <> CAST($day AS DATE) THEN 'outside_delivered_day'
        WHEN cpu_time_ms < 0 OR peak_memory_bytes < 0
            OR ((cpu_time_ms IS NULL OR peak_memory_bytes IS NULL) AND NOT heavy_error) THEN 'invalid_cost'
        WHEN copy > 1 THEN 'duplicate_query_id'
        WHEN $curated_only AND NOT coalesce(curated, false) THEN 'non_curated'
        WHEN NOT list_contains($query_types, query_type) THEN 'query_type_excluded'
    END AS filter_reason
FROM flagged
ORDER BY create_time, query_id
