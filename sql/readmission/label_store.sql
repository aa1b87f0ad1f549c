-- label_store: one month's targets: KEYS and readmitted_30d (1 when readmitted is '<30', 0 for '>30'
-- and 'NO'). Input: view encounters_silver. Encounters whose readmitted is unknown or invalid (NULL in
-- silver) have no label and are left out (counted by the caller).
SELECT encounter_id, patient_nbr, encounter_date, CAST(readmitted = '<30' AS INTEGER) AS readmitted_30d
FROM encounters_silver
WHERE readmitted IS NOT NULL
ORDER BY encounter_id
