-- customers: the month's delivery typed and cleaned, one row per customer_id.
-- Input: view raw_source (every contract column typed, unknown codes and non-numbers as NULL) and
-- table range_problems (each value outside its column's range: NaN, infinities, implausible
-- features, labels outside [0, 1]; platform_core/contract.py). A row with any such value is set
-- aside (customers_quarantine.sql), never trained on or scored: a label of -5 does not make its
-- customer one to score. Duplicate customer ids keep their first remaining row (counted by the caller).
SELECT * EXCLUDE (source_file, source_row)
FROM raw_source
ANTI JOIN range_problems USING (source_file, source_row)
QUALIFY row_number() OVER (PARTITION BY customer_id ORDER BY source_file, source_row) = 1
