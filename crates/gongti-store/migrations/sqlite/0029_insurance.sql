-- Insurance (医保, DOMAIN.md §6), as the built-in simulator of the bureau keeps it: each
-- insured resident (险种, 人员类别, the bureau's person number, the personal account's
-- balance), their 门特 certifications (disease and validity), their year (deductible
-- used, fund paid), and the settlements of prescriptions with every split figure and
-- the policy version used. A reversed settlement stays, marked, with when.

CREATE TABLE insured_persons (
    resident_id INTEGER PRIMARY KEY REFERENCES residents(id),
    psn_no TEXT NOT NULL UNIQUE,
    insutype TEXT NOT NULL CHECK (insutype IN ('employee', 'resident')),
    psn_type TEXT NOT NULL CHECK (psn_type IN ('working', 'retired')),
    account_balance_fen INTEGER NOT NULL CHECK (account_balance_fen >= 0),
    updated_at_us INTEGER NOT NULL
);

CREATE TABLE chronic_certifications (
    resident_id INTEGER NOT NULL REFERENCES residents(id),
    disease TEXT NOT NULL,
    valid_from TEXT NOT NULL,
    valid_until TEXT NOT NULL,
    certified_at_us INTEGER NOT NULL,
    PRIMARY KEY (resident_id, disease)
);

CREATE TABLE insurance_years (
    resident_id INTEGER NOT NULL REFERENCES residents(id),
    year INTEGER NOT NULL,
    deductible_used_fen INTEGER NOT NULL CHECK (deductible_used_fen >= 0),
    fund_paid_fen INTEGER NOT NULL CHECK (fund_paid_fen >= 0),
    PRIMARY KEY (resident_id, year)
);

CREATE TABLE insurance_settlements (
    id INTEGER PRIMARY KEY,
    setl_id TEXT NOT NULL UNIQUE,
    prescription_id INTEGER NOT NULL REFERENCES prescriptions(id),
    resident_id INTEGER NOT NULL REFERENCES residents(id),
    disease TEXT NOT NULL,
    year INTEGER NOT NULL,
    policy_version TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('settled', 'reversed')),
    total_fen INTEGER NOT NULL,
    fully_self_fen INTEGER NOT NULL,
    over_cap_fen INTEGER NOT NULL,
    pre_self_fen INTEGER NOT NULL,
    in_scope_fen INTEGER NOT NULL,
    deductible_fen INTEGER NOT NULL,
    fund_fen INTEGER NOT NULL,
    account_fen INTEGER NOT NULL,
    cash_fen INTEGER NOT NULL,
    -- The fee lines as settled (JSON: product, packs, amount and split).
    lines TEXT NOT NULL,
    settled_at_us INTEGER NOT NULL,
    reversed_at_us INTEGER
);
-- One settlement in force per prescription.
CREATE UNIQUE INDEX insurance_settlements_in_force ON insurance_settlements (prescription_id)
    WHERE status = 'settled';
CREATE INDEX insurance_settlements_resident ON insurance_settlements (resident_id, id);
CREATE INDEX insurance_settlements_time ON insurance_settlements (settled_at_us, id);
