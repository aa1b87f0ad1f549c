-- Posted and actual waits per entity and 15-minute slot. Input: table classified.
SELECT day, CAST(entity_id AS INTEGER) AS entity_id, park, day AS date, time_bucket(INTERVAL 15 MINUTES, observed_at) AS slot_start,
       CAST(count(*) AS INTEGER) AS observations, avg(posted_wait) AS mean_posted,
       CAST(max(posted_wait) AS INTEGER) AS max_posted, avg(actual_wait) AS mean_actual
FROM classified
WHERE reason IS NULL
GROUP BY ALL
