-- Indicator figures kept as records are written (DOMAIN.md §2), for calendar months,
-- quarters and years: per enrolment and period the facts the indicators read, and per
-- scope ('c' city, 'd:<code>' district, 'i:<id>' institution) the counts they add up to.
-- `gongti indicators verify` recomputes them from the raw records.

CREATE TABLE indicator_facts (
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
);

CREATE TABLE indicator_counts (
    scope TEXT NOT NULL,
    disease TEXT NOT NULL,
    period TEXT NOT NULL,
    measure TEXT NOT NULL,
    value INTEGER NOT NULL,
    PRIMARY KEY (scope, disease, period, measure)
);

CREATE TABLE enrolment_counts (
    scope TEXT NOT NULL,
    disease TEXT NOT NULL,
    day TEXT NOT NULL,
    enrolled INTEGER NOT NULL,
    PRIMARY KEY (scope, disease, day)
);
