-- icd9_chapter(code): the chapter group of an ICD-9 diagnosis code, as in Strack et al. (2014), the
-- study behind the "Diabetes 130-US hospitals" data: circulatory 390-459 and 785, respiratory 460-519
-- and 786, digestive 520-579 and 787, diabetes 250.xx, injury 800-999, musculoskeletal 710-739,
-- genitourinary 580-629 and 788, neoplasms 140-239, other: every other code 001-999 and the V and E
-- codes. NULL for an unknown code (NULL, blank, '?') and for a code that is not ICD-9
-- (icd9_status tells which). Numeric codes may lack leading zeros ('8' is 008), as in the original.
CREATE OR REPLACE TEMP MACRO icd9_status(code) AS CASE
    WHEN code IS NULL OR trim(code) IN ('', '?') THEN 'unknown'
    WHEN regexp_full_match(upper(trim(code)), 'V[0-9]{2}(\.[0-9]{1,2})?|E[0-9]{3}(\.[0-9]{1,2})?') THEN 'ok'
    WHEN regexp_full_match(trim(code), '[0-9]{1,3}(\.[0-9]{1,2})?') AND TRY_CAST(trim(code) AS DOUBLE) >= 1 THEN 'ok'
    ELSE 'unparseable'
END;

CREATE OR REPLACE TEMP MACRO icd9_group(n) AS CASE
    WHEN n BETWEEN 390 AND 459 OR n = 785 THEN 'circulatory'
    WHEN n BETWEEN 460 AND 519 OR n = 786 THEN 'respiratory'
    WHEN n BETWEEN 520 AND 579 OR n = 787 THEN 'digestive'
    WHEN n = 250 THEN 'diabetes'
    WHEN n BETWEEN 800 AND 999 THEN 'injury'
    WHEN n BETWEEN 710 AND 739 THEN 'musculoskeletal'
    WHEN n BETWEEN 580 AND 629 OR n = 788 THEN 'genitourinary'
    WHEN n BETWEEN 140 AND 239 THEN 'neoplasms'
    ELSE 'other'
END;

CREATE OR REPLACE TEMP MACRO icd9_chapter(code) AS CASE
    WHEN icd9_status(code) <> 'ok' THEN NULL
    WHEN upper(trim(code))[1] IN ('V', 'E') THEN 'other'
    ELSE icd9_group(floor(TRY_CAST(trim(code) AS DOUBLE)))
END;
