-- Macros the readmission source and silver SQL share (installed by logic/source.py).
-- code_status(value, allowed, unknown): 'missing' (NULL or blank), 'unknown' (one of `unknown`, such
-- as '?'), 'not_allowed' (outside `allowed`; a NULL `allowed` takes any text) or 'ok'.
-- coded(value, allowed, unknown): the trimmed value when its status is 'ok', else NULL.
-- in_range(value, bounds): the value when it lies in [bounds[1], bounds[2]], else NULL.
-- not_of_kind(value, kind): the value as text when it is not NULL and does not cast to `kind`
-- ('INTEGER', 'BIGINT' or 'DATE'), else NULL.
CREATE OR REPLACE TEMP MACRO code_status(value, allowed, unknown) AS CASE
    WHEN value IS NULL OR trim(value) = '' THEN 'missing'
    WHEN list_contains(unknown, trim(value)) THEN 'unknown'
    WHEN allowed IS NULL OR list_contains(allowed, trim(value)) THEN 'ok'
    ELSE 'not_allowed'
END;

CREATE OR REPLACE TEMP MACRO coded(value, allowed, unknown) AS
    CASE WHEN code_status(value, allowed, unknown) = 'ok' THEN trim(value) END;

CREATE OR REPLACE TEMP MACRO in_range(value, bounds) AS
    CASE WHEN value BETWEEN bounds[1] AND bounds[2] THEN value END;

CREATE OR REPLACE TEMP MACRO not_of_kind(value, kind) AS CASE
    WHEN value IS NOT NULL AND CASE kind WHEN 'INTEGER' THEN TRY_CAST(value AS INTEGER) IS NULL
                                         WHEN 'BIGINT' THEN TRY_CAST(value AS BIGINT) IS NULL
                                         WHEN 'DATE' THEN TRY_CAST(value AS DATE) IS NULL END
        THEN CAST(value AS VARCHAR)
END;
