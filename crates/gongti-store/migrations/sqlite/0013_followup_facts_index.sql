-- The follow-ups of an enrolment with the fields the indicators read, in the index
-- itself: a recompute from the records reads the index alone, never the 42-column
-- rows (BENCHMARKS.md). Same leading columns as the index it replaces, so every
-- lookup by enrolment and day still uses it.
CREATE INDEX followups_facts ON followups(
    enrolment_id, visit_on, id, counts_face_to_face, age_years,
    sbp_mmhg, dbp_mmhg, fpg_centi_mmol, hba1c_centi_percent
);
DROP INDEX followups_enrolment;
