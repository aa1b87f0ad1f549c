-- Per park open on the day that has entities: its latest observation and whether it is stale (nothing in the last
-- $stale_hours hours before closing).
SELECT h.park,
       h.closes_at,
       max(f.observed_at) AS latest_observation,
       count(f.observed_at) AS observations,
       coalesce(max(f.observed_at) < h.closes_at - to_microseconds(CAST($stale_hours * 3600e6 AS BIGINT)), true) AS stale
FROM hours h
LEFT JOIN facts f ON f.park = h.park
WHERE h.park IN (SELECT park FROM entities)
GROUP BY h.park, h.closes_at
ORDER BY h.park
