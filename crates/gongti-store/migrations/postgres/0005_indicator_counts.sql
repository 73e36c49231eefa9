-- Indicator figures kept as records are written (DOMAIN.md §2), for calendar months,
-- quarters and years: per enrolment and period the facts the indicators read, and per
-- scope ('c' city, 'd:<code>' district, 'i:<id>' institution) the counts they add up to.
-- `gongti indicators verify` recomputes them from the raw records.

CREATE TABLE indicator_facts (
    enrolment_id BIGINT NOT NULL REFERENCES chronic_enrolments(id),
    period TEXT NOT NULL,
    face_to_face BIGINT NOT NULL,
    bp_on DATE,
    bp_id BIGINT,
    bp_ok BOOLEAN,
    fpg_on DATE,
    fpg_id BIGINT,
    fpg_ok BOOLEAN,
    hba1c_on DATE,
    hba1c_id BIGINT,
    hba1c_ok BOOLEAN,
    seen BOOLEAN NOT NULL,
    contacted BOOLEAN NOT NULL,
    PRIMARY KEY (enrolment_id, period)
);

CREATE TABLE indicator_counts (
    scope TEXT NOT NULL,
    disease TEXT NOT NULL,
    period TEXT NOT NULL,
    measure TEXT NOT NULL,
    value BIGINT NOT NULL,
    PRIMARY KEY (scope, disease, period, measure)
);

CREATE TABLE enrolment_counts (
    scope TEXT NOT NULL,
    disease TEXT NOT NULL,
    day DATE NOT NULL,
    enrolled BIGINT NOT NULL,
    PRIMARY KEY (scope, disease, day)
);
