-- An enrolment's kept facts packed a year to a row (the year's month, quarter and year
-- periods in one value, see `maintained::pack_year`) rather than a row a period: an
-- import of a city's history wrote about thirty rows an enrolment in
-- `indicator_facts`, most of the rows it wrote (BENCHMARKS.md, *Importing history*).
-- Expand only: `indicator_facts` stays, to be dropped by a later release. The facts
-- are derived data: the new table starts empty, and this release rebuilds facts and
-- counters from the records when it first starts (`App::ensure_indicator_counters`:
-- its mark of a build is a setting of its own), emptying the old table.
CREATE TABLE indicator_year_facts (
    enrolment_id BIGINT NOT NULL REFERENCES chronic_enrolments(id),
    year BIGINT NOT NULL,
    facts BYTEA NOT NULL,
    PRIMARY KEY (enrolment_id, year)
);
COMMENT ON TABLE indicator_year_facts IS
    'The facts the chronic-care indicators read of one enrolment in the calendar months, quarters and year of one year (per period: its face-to-face visits, latest BP, FPG and HbA1c and whether each was controlled, seen and contacted), packed in one value and kept as its records are written.';
