-- The committee (绩效考核管理委员会) approves a version of the payment scheme before it
-- comes into force (DOMAIN.md §6; issue 17 points 1 and 9): a version is saved proposed,
-- then approved or rejected once, by whom, when and why; only an approved version is in
-- force. A version saved before this migration was in force as saved, so it reads as
-- approved with no decision recorded.
ALTER TABLE payment_scheme_versions ADD COLUMN state TEXT NOT NULL DEFAULT 'approved'
    CHECK (state IN ('proposed', 'approved', 'rejected'));
ALTER TABLE payment_scheme_versions ADD COLUMN decided_by_staff_id INTEGER REFERENCES staff(id);
ALTER TABLE payment_scheme_versions ADD COLUMN decided_at_us INTEGER;
ALTER TABLE payment_scheme_versions ADD COLUMN decision_note TEXT;
CREATE INDEX payment_scheme_versions_in_force
    ON payment_scheme_versions(state, effective_from, id);
