-- Rows in and rows set aside per day and reason. Input: table classified.
SELECT day, coalesce(reason, 'kept') AS reason, count(*) AS rows
FROM classified
GROUP BY ALL
ORDER BY day, reason
