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
    -- the sending institution (MSH-4), when registered
    institution_id INTEGER REFERENCES institutions(id),
    results INTEGER NOT NULL DEFAULT 0,
    matched_by_user_id INTEGER REFERENCES users(id),
    matched_at_us INTEGER
);
CREATE UNIQUE INDEX hl7_messages_control ON hl7_messages(sender, control_id) WHERE ack_code <> 'AR';
CREATE INDEX hl7_messages_held ON hl7_messages(institution_id, id) WHERE ack_code = 'AE';

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

-- Critical values (危急值, DOMAIN.md §8): one per result past its item's critical limit,
-- made in the result's transaction (a correction that becomes critical makes one too),
-- for the clinicians of the resident's institution; read back and confirmed, then the
-- action recorded; escalated to the institution's duty officer when not confirmed by
-- `due_at_us`. Each step keeps its time and who took it.
CREATE TABLE critical_values (
    id INTEGER PRIMARY KEY,
    lab_result_id INTEGER NOT NULL REFERENCES lab_results(id),
    resident_id INTEGER NOT NULL REFERENCES residents(id),
    institution_id INTEGER NOT NULL REFERENCES institutions(id),
    code TEXT NOT NULL,
    display TEXT NOT NULL,
    value_text TEXT NOT NULL,
    unit TEXT NOT NULL,
    side TEXT NOT NULL,
    status TEXT NOT NULL,
    detected_at_us INTEGER NOT NULL,
    due_at_us INTEGER NOT NULL,
    escalated_at_us INTEGER,
    confirmed_by_user_id INTEGER REFERENCES users(id),
    confirmed_at_us INTEGER,
    read_back TEXT,
    actioned_by_user_id INTEGER REFERENCES users(id),
    actioned_at_us INTEGER,
    action TEXT
);
CREATE UNIQUE INDEX critical_values_result ON critical_values(lab_result_id) WHERE status <> 'closed';
CREATE INDEX critical_values_open ON critical_values(institution_id, id) WHERE status <> 'closed';
CREATE INDEX critical_values_due ON critical_values(due_at_us) WHERE status = 'notified' AND escalated_at_us IS NULL;
