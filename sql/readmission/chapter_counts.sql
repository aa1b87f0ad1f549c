-- Encounters per diagnosis position and chapter ('unknown' for a NULL chapter: unknown or not ICD-9).
-- Input: view chapters (any table with diag_1_chapter, diag_2_chapter, diag_3_chapter).
SELECT column_name, chapter, count(*) AS rows
FROM (UNPIVOT (SELECT coalesce(COLUMNS('^diag_[123]_chapter$'), 'unknown') FROM chapters)
      ON COLUMNS(*) INTO NAME column_name VALUE chapter)
GROUP BY ALL
ORDER BY ALL
