-- Rows in and rows set aside per day, column and reason ('kept': in the fact table). Input: table classified.
SELECT day, coalesce(column_name, '') AS column_name, coalesce(reason, 'kept') AS reason, count(*) AS rows
FROM classified
GROUP BY ALL
ORDER BY day, column_name, reason
