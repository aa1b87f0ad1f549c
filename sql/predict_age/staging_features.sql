-- staging_features: one row per pid with the existing age (if any), the smart-filter flag and
-- numeric model features. Input: view source_snapshot. Parameter: $ref_date (the quarter's
-- reference date). The prediction bucket is the directory a row's file is placed in (staging.py).
-- Categorical codes are small integers; an unknown or absent value is NULL, never a guess.
SELECT
    pid,
    coalesce(approximate_age, birth_year_age) AS existing_age,
    CASE
        WHEN approximate_age IS NOT NULL THEN 'EXISTING_APPROX_AGE'
        WHEN birth_year_age IS NOT NULL THEN 'EXISTING_BIRTH_YEAR'
    END AS existing_age_source,
    approximate_age IS NULL AND birth_year_age IS NULL AS needs_prediction,
    first_name,
    CASE gender WHEN 'M' THEN 0 WHEN 'F' THEN 1 END::TINYINT AS gender_code,
    CASE
        WHEN state IN ('CT', 'ME', 'MA', 'NH', 'RI', 'VT', 'NJ', 'NY', 'PA') THEN 0
        WHEN state IN ('IL', 'IN', 'MI', 'OH', 'WI', 'IA', 'KS', 'MN', 'MO', 'NE', 'ND', 'SD') THEN 1
        WHEN state IN ('DE', 'DC', 'FL', 'GA', 'MD', 'NC', 'SC', 'VA', 'WV', 'AL', 'KY', 'MS', 'TN',
                       'AR', 'LA', 'OK', 'TX') THEN 2
        WHEN state IN ('AZ', 'CO', 'ID', 'MT', 'NV', 'NM', 'UT', 'WY', 'AK', 'CA', 'HI', 'OR', 'WA') THEN 3
    END::TINYINT AS region_code,
    CASE marital_status WHEN 'S' THEN 0 WHEN 'M' THEN 1 WHEN 'D' THEN 2 WHEN 'W' THEN 3 END::TINYINT
        AS marital_code,
    household_size::FLOAT AS household_size,
    num_children::FLOAT AS num_children,
    CASE homeowner WHEN 'Y' THEN 1 WHEN 'N' THEN 0 END::TINYINT AS homeowner_code,
    length_of_residence::FLOAT AS length_of_residence,
    nullif(strpos('ABCDEFGHIJKL', income_band), 0)::FLOAT AS income_rank,
    nullif(strpos('ABCDEFGHI', net_worth_band), 0)::FLOAT AS net_worth_rank,
    CASE education WHEN 'HS' THEN 0 WHEN 'SC' THEN 1 WHEN 'BA' THEN 2 WHEN 'GR' THEN 3 END::TINYINT
        AS education_code,
    CASE occupation_group
        WHEN 'STUDENT' THEN 0 WHEN 'PROFESSIONAL' THEN 1 WHEN 'CLERICAL' THEN 2
        WHEN 'TRADES' THEN 3 WHEN 'RETIRED' THEN 4 WHEN 'HOMEMAKER' THEN 5
    END::TINYINT AS occupation_code,
    vehicle_count::FLOAT AS vehicle_count,
    CASE WHEN newest_vehicle_year BETWEEN 1950 AND year($ref_date) + 2
         THEN year($ref_date) + 1 - newest_vehicle_year END::FLOAT AS vehicle_age,
    CASE has_landline WHEN 'Y' THEN 1 WHEN 'N' THEN 0 END::TINYINT AS landline_code,
    CASE has_mobile WHEN 'Y' THEN 1 WHEN 'N' THEN 0 END::TINYINT AS mobile_code,
    CASE email_domain_type
        WHEN 'gmail' THEN 0 WHEN 'yahoo' THEN 1 WHEN 'aol' THEN 2 WHEN 'hotmail' THEN 3
        WHEN 'icloud' THEN 4 WHEN 'corporate' THEN 5 WHEN 'edu' THEN 6 WHEN 'other' THEN 7
    END::TINYINT AS email_code,
    social_profiles::FLOAT AS social_profiles,
    credit_card_count::FLOAT AS credit_card_count,
    CASE voter_registered WHEN 'Y' THEN 1 WHEN 'N' THEN 0 END::TINYINT AS voter_code,
    CASE WHEN first_seen_date <= $ref_date
         THEN date_diff('day', first_seen_date, $ref_date) / 365.25 END::FLOAT AS years_since_first_seen,
    CASE WHEN last_activity_date <= $ref_date
         THEN date_diff('day', last_activity_date, $ref_date) END::FLOAT AS days_since_activity
FROM source_snapshot
