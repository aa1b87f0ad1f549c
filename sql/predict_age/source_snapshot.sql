-- source_snapshot: the quarter's raw snapshot, typed and cleaned, one row per pid.
-- Input: view raw_source (every contract column typed and trimmed, unknown codes and absent
-- optional columns as NULL, plus source_file and source_row; built from the contract declared
-- in platform_assets/predict_age/logic/source.py by platform_core/contract.py).
-- Parameters: $min_age, $max_age, $ref_year, $ref_month.
-- Unusable ages and birth years become NULL with a status that says why; nothing is dropped
-- except duplicate pids: the rows of view duplicate_rows (source_duplicates.sql, written first),
-- which are counted in the quarantine. One streaming pass: no sort of the quarter.
-- Integral decimals ('45.0', '1978.00', as a writer that went through floats produces) are the
-- integers they spell; any other fraction ('45.5') is not_a_number / not_a_year.
WITH typed AS (
    SELECT
        *,
        trim(approximate_age) AS age_text,
        trim(birth_year) AS year_text,
        TRY_CAST(trim(approximate_age) AS INTEGER) AS age_number,
        TRY_CAST(trim(birth_year) AS INTEGER) AS year_number
    FROM raw_source ANTI JOIN duplicate_rows USING (source_file, source_row)
),
classified AS (
    SELECT
        *,
        CASE
            WHEN approximate_age IS NULL THEN 'null'
            WHEN age_text = '' THEN 'blank'
            WHEN upper(age_text) = 'U' THEN 'unknown_code'
            WHEN NOT regexp_full_match(age_text, '-?[0-9]{1,4}(\.0+)?') THEN 'not_a_number'
            WHEN age_number = 0 THEN 'zero'
            WHEN age_number NOT BETWEEN $min_age AND $max_age THEN 'out_of_range'
            ELSE 'usable'
        END AS approximate_age_status,
        $ref_year - year_number - CASE WHEN $ref_month < 7 THEN 1 ELSE 0 END AS year_age
    FROM typed
)
SELECT
    pid,
    CASE WHEN approximate_age_status = 'usable' THEN age_number END::INTEGER AS approximate_age,
    approximate_age_status,
    CASE WHEN birth_year_status = 'usable' THEN year_number END::INTEGER AS birth_year,
    birth_year_status,
    CASE WHEN birth_year_status = 'usable' THEN year_age END::INTEGER AS birth_year_age,
    gender,
    first_name,
    state,
    zip5,
    marital_status,
    household_size,
    num_children,
    homeowner,
    length_of_residence,
    income_band,
    net_worth_band,
    education,
    occupation_group,
    vehicle_count,
    newest_vehicle_year,
    has_landline,
    has_mobile,
    email_domain_type,
    social_profiles,
    credit_card_count,
    voter_registered,
    first_seen_date,
    last_activity_date
FROM (
    SELECT
        *,
        CASE
            WHEN birth_year IS NULL THEN 'null'
            WHEN year_text = '' THEN 'blank'
            WHEN year_number = 0 THEN 'zero'
            WHEN NOT regexp_full_match(year_text, '[0-9]{4}(\.0+)?') THEN 'not_a_year'
            WHEN year_number > $ref_year THEN 'future'
            WHEN year_age NOT BETWEEN $min_age AND $max_age THEN 'out_of_range'
            ELSE 'usable'
        END AS birth_year_status
    FROM classified
)
