-- An enrolment's facts of a period are kept in the order of their key alone (a table
-- without rowid): an import of a city's history writes about thirty of them for every
-- enrolment, and with a rowid each went into two trees (the table and its key's
-- index) — most of the rows an import writes (BENCHMARKS.md). Same columns, same key.
CREATE TABLE indicator_facts_next (
    enrolment_id INTEGER NOT NULL REFERENCES chronic_enrolments(id),
    period TEXT NOT NULL,
    face_to_face INTEGER NOT NULL,
    bp_on TEXT,
    bp_id INTEGER,
    bp_ok INTEGER,
    fpg_on TEXT,
    fpg_id INTEGER,
    fpg_ok INTEGER,
    hba1c_on TEXT,
    hba1c_id INTEGER,
    hba1c_ok INTEGER,
    seen INTEGER NOT NULL,
    contacted INTEGER NOT NULL,
    PRIMARY KEY (enrolment_id, period)
) WITHOUT ROWID;
INSERT INTO indicator_facts_next (enrolment_id, period, face_to_face, bp_on, bp_id, bp_ok,
    fpg_on, fpg_id, fpg_ok, hba1c_on, hba1c_id, hba1c_ok, seen, contacted)
SELECT enrolment_id, period, face_to_face, bp_on, bp_id, bp_ok, fpg_on, fpg_id, fpg_ok,
    hba1c_on, hba1c_id, hba1c_ok, seen, contacted
FROM indicator_facts;
DROP TABLE indicator_facts;
ALTER TABLE indicator_facts_next RENAME TO indicator_facts;
