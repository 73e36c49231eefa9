-- An enrolment's kept facts packed a year to a row (the year's month, quarter and year
-- periods in one value, see `maintained::pack_year`) rather than a row a period: an
-- import of a city's history wrote about thirty rows an enrolment in
-- `indicator_facts`, most of the rows it wrote (BENCHMARKS.md, *Importing history*).
-- Expand only: `indicator_facts` stays, to be dropped by a later release. The facts
-- are derived data: the new table starts empty, and this release rebuilds facts and
-- counters from the records when it first starts (`App::ensure_indicator_counters`:
-- its mark of a build is a setting of its own), emptying the old table.
CREATE TABLE indicator_year_facts (
    enrolment_id INTEGER NOT NULL REFERENCES chronic_enrolments(id),
    year INTEGER NOT NULL,
    facts BLOB NOT NULL,
    PRIMARY KEY (enrolment_id, year)
) WITHOUT ROWID;
