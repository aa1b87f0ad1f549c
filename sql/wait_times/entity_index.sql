-- Per entity of the day's entity list: its observations so far, its models, and whether it is due.
-- Inputs: view facts (fact_observations through the day), view dim (dim_entity of the day), view models
-- (entity_id, current_version, last_trained, count_at_last_model); parameters $day, $min_new_observations,
-- $critical_age_days (tier 1), $other_age_days. Reasons in order: no model, enough new observations, age.
WITH counts AS (
    SELECT entity_id, count(*) AS observation_count, max(observed_at) AS latest_observation
    FROM facts
    GROUP BY ALL
),
joined AS (
    SELECT d.entity_id, d.park, d.tier, coalesce(c.observation_count, 0) AS observation_count, c.latest_observation,
           m.count_at_last_model, coalesce(c.observation_count, 0) - coalesce(m.count_at_last_model, 0) AS new_observations,
           m.last_trained, m.current_version
    FROM dim d
    LEFT JOIN counts c USING (entity_id)
    LEFT JOIN models m USING (entity_id)
)
SELECT *, due_reason <> 'not_due' AS due
FROM (
    SELECT *,
           CASE
               WHEN current_version IS NULL THEN 'no_model'
               WHEN new_observations >= $min_new_observations THEN 'new_observations'
               WHEN last_trained IS NULL
                    OR date_diff('day', last_trained, CAST($day AS DATE))
                       >= CASE WHEN tier = 1 THEN $critical_age_days ELSE $other_age_days END THEN 'tier_age'
               ELSE 'not_due'
           END AS due_reason
    FROM joined
)
ORDER BY tier, observation_count DESC, entity_id
