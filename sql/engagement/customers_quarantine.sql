-- customers_quarantine: the rows customers.sql sets aside, one line per value outside its
-- column's range (a row may have several), with the delivered value and where it was.
SELECT customer_id, column_name, reason, value, source_file, source_row
FROM range_problems
ORDER BY source_file, source_row, column_name
