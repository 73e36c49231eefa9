-- Critical findings from a reader's report (危急值, DOMAIN.md §8): a report may carry
-- one critical finding of its modality (data/exam/critical_findings.tsv), kept with the
-- report and each version; reporting it opens a critical value on the same closed loop
-- as a laboratory one, for the ordering institution's clinicians. A critical value now
-- comes from a laboratory result or from an order's report (one report per order), exactly
-- one of the two.
ALTER TABLE exam_reports ADD COLUMN critical_code TEXT;
ALTER TABLE exam_report_versions ADD COLUMN critical_code TEXT;

CREATE TABLE critical_values_next (
    id INTEGER PRIMARY KEY,
    lab_result_id INTEGER REFERENCES lab_results(id),
    exam_order_id INTEGER REFERENCES exam_orders(id),
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
    action TEXT,
    CHECK ((lab_result_id IS NULL) <> (exam_order_id IS NULL))
);
INSERT INTO critical_values_next (id, lab_result_id, resident_id, institution_id, code, display,
    value_text, unit, side, status, detected_at_us, due_at_us, escalated_at_us, confirmed_by_user_id,
    confirmed_at_us, read_back, actioned_by_user_id, actioned_at_us, action)
SELECT id, lab_result_id, resident_id, institution_id, code, display, value_text, unit, side, status,
    detected_at_us, due_at_us, escalated_at_us, confirmed_by_user_id, confirmed_at_us, read_back,
    actioned_by_user_id, actioned_at_us, action
FROM critical_values;
DROP TABLE critical_values;
ALTER TABLE critical_values_next RENAME TO critical_values;
CREATE UNIQUE INDEX critical_values_result ON critical_values(lab_result_id) WHERE status <> 'closed';
CREATE UNIQUE INDEX critical_values_report ON critical_values(exam_order_id) WHERE status <> 'closed';
CREATE INDEX critical_values_open ON critical_values(institution_id, id) WHERE status <> 'closed';
CREATE INDEX critical_values_due ON critical_values(due_at_us) WHERE status = 'notified' AND escalated_at_us IS NULL;
CREATE INDEX critical_values_resident ON critical_values(resident_id, id);
