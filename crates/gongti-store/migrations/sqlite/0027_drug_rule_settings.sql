-- An institution's decision on each rule of the prescription knowledge base (its
-- pharmacy and therapeutics committee, DOMAIN.md §4): confirmed or disabled, with the
-- knowledge base's version it was taken on, who decided, when and why. The audit trail
-- keeps every change; this row is the one in force.
CREATE TABLE drug_rule_settings (
    institution_id INTEGER NOT NULL REFERENCES institutions(id),
    rule_id TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('confirmed', 'disabled')),
    ruleset_version TEXT NOT NULL,
    reason TEXT,
    staff_id INTEGER NOT NULL REFERENCES staff(id),
    at_us INTEGER NOT NULL,
    PRIMARY KEY (institution_id, rule_id)
);
