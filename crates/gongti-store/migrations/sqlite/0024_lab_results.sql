-- Laboratory results (检验结果) of a resident: a fasting plasma glucose or an HbA1c
-- that counts in the chronic-care indicators on its collection day (DOMAIN.md §2),
-- brought in through FHIR. `value_centi` is hundredths of the test's unit (mmol/L,
-- %); `reported` keeps the value and unit as the laboratory sent them. Idempotent on
-- the sender's identifier for the result (its system, '' when none, and value), per
-- resident.
CREATE TABLE lab_results (
    id INTEGER PRIMARY KEY,
    resident_id INTEGER NOT NULL REFERENCES residents(id),
    source_system TEXT NOT NULL,
    source_id TEXT NOT NULL,
    test TEXT NOT NULL,
    loinc TEXT NOT NULL,
    value_centi INTEGER NOT NULL,
    reported TEXT NOT NULL,
    collected_on TEXT NOT NULL,
    collected_at_us INTEGER,
    institution_id INTEGER NOT NULL REFERENCES institutions(id),
    entered_by_user_id INTEGER NOT NULL REFERENCES users(id),
    created_at_us INTEGER NOT NULL
);
CREATE UNIQUE INDEX lab_results_source ON lab_results(resident_id, source_system, source_id);
CREATE INDEX lab_results_collected ON lab_results(resident_id, collected_on);
