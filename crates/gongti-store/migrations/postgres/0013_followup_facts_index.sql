-- The follow-ups of an enrolment with the fields the indicators read, in the index
-- itself (an index-only scan for a recompute from the records). Same key as the index
-- it replaces, so every lookup by enrolment and day still uses it.
CREATE INDEX followups_facts ON followups(enrolment_id, visit_on, id)
    INCLUDE (counts_face_to_face, age_years, sbp_mmhg, dbp_mmhg, fpg_centi_mmol, hba1c_centi_percent);
DROP INDEX followups_enrolment;
