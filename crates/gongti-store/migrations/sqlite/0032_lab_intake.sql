-- The cloud examination's laboratory intake (DOMAIN.md §8): HL7 v2 messages received
-- over MLLP, each stored (its bytes sealed like personal data) before it is
-- acknowledged, once per sender and control id (MSH-10) unless rejected (AR); a
-- message whose patient is not matched (AE) waits in the list for a person to match.
CREATE TABLE hl7_messages (
    id INTEGER PRIMARY KEY,
    -- MSH-3@MSH-4, '' when the message could not be read
    sender TEXT NOT NULL,
    control_id TEXT NOT NULL,
    message_type TEXT NOT NULL,
    charset TEXT NOT NULL,
    raw TEXT NOT NULL,
    peer TEXT NOT NULL,
    received_at_us INTEGER NOT NULL,
    -- AA, AE or AR as answered; 'AA' again once a person matched a held one
    ack_code TEXT NOT NULL,
    -- '' or why: an unmatched code (no_id_number, …) or the rejection's reason
    problem TEXT NOT NULL,
    resident_id INTEGER REFERENCES residents(id),
    results INTEGER NOT NULL DEFAULT 0,
    matched_by_user_id INTEGER REFERENCES users(id),
    matched_at_us INTEGER
);
CREATE UNIQUE INDEX hl7_messages_control ON hl7_messages(sender, control_id) WHERE ack_code <> 'AR';
CREATE INDEX hl7_messages_by_ack ON hl7_messages(ack_code, id);

-- Laboratory results of any test: the value as sent and, when it is a number, in
-- hundredths of its unit; the range, flags and status (preliminary, final, corrected:
-- a correction updates the row and keeps the earlier one as a version); the critical
-- side; the HL7 message that brought it. `test` is 'fpg' or 'hba1c' for the results the
-- chronic-care indicators count, '' for the others. Rebuilt (SQLite cannot relax NOT
-- NULL): a laboratory's system records without a user.
CREATE TABLE lab_results_new (
    id INTEGER PRIMARY KEY,
    resident_id INTEGER NOT NULL REFERENCES residents(id),
    source_system TEXT NOT NULL,
    source_id TEXT NOT NULL,
    test TEXT NOT NULL,
    loinc TEXT NOT NULL,
    value_centi INTEGER,
    reported TEXT NOT NULL,
    collected_on TEXT NOT NULL,
    collected_at_us INTEGER,
    institution_id INTEGER NOT NULL REFERENCES institutions(id),
    entered_by_user_id INTEGER REFERENCES users(id),
    created_at_us INTEGER NOT NULL,
    code_system TEXT NOT NULL DEFAULT 'LN',
    display TEXT NOT NULL DEFAULT '',
    value_text TEXT NOT NULL DEFAULT '',
    unit TEXT NOT NULL DEFAULT '',
    reference_range TEXT NOT NULL DEFAULT '',
    flags TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL DEFAULT 'final',
    critical TEXT,
    hl7_message_id INTEGER REFERENCES hl7_messages(id),
    version INTEGER NOT NULL DEFAULT 1,
    version_at_us INTEGER
);
INSERT INTO lab_results_new (id, resident_id, source_system, source_id, test, loinc, value_centi, reported,
    collected_on, collected_at_us, institution_id, entered_by_user_id, created_at_us, value_text, unit)
SELECT id, resident_id, source_system, source_id, test, loinc, value_centi, reported,
    collected_on, collected_at_us, institution_id, entered_by_user_id, created_at_us,
    printf('%g', value_centi / 100.0), CASE test WHEN 'fpg' THEN 'mmol/L' ELSE '%' END
FROM lab_results;
DROP TABLE lab_results;
ALTER TABLE lab_results_new RENAME TO lab_results;
CREATE UNIQUE INDEX lab_results_source ON lab_results(resident_id, source_system, source_id);
CREATE INDEX lab_results_collected ON lab_results(resident_id, collected_on);
CREATE INDEX lab_results_message ON lab_results(hl7_message_id) WHERE hl7_message_id IS NOT NULL;
