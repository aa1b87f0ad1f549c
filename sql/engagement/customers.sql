-- customers: the month's delivery typed and cleaned, one row per customer_id.
-- Input: view raw_source (every contract column typed, unknown codes and non-numbers as NULL;
-- platform_core/contract.py). A label outside [0, 1] becomes NULL with label_status
-- 'out_of_range': that customer's engagement is unknown, so it is scored, not trained on.
-- Duplicate customer ids keep their first row (counted by the caller).
SELECT
    * EXCLUDE (engagement_score, source_file, source_row),
    CASE WHEN engagement_score BETWEEN 0 AND 1 THEN engagement_score END AS engagement_score,
    CASE
        WHEN engagement_score IS NULL THEN 'absent'
        WHEN engagement_score BETWEEN 0 AND 1 THEN 'usable'
        ELSE 'out_of_range'
    END AS label_status
FROM raw_source
QUALIFY row_number() OVER (PARTITION BY customer_id ORDER BY source_file, source_row) = 1
