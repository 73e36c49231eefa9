-- Family-doctor contracts (家庭医生签约), DOMAIN.md §5.

CREATE TABLE service_packages (
    id INTEGER PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    basic INTEGER NOT NULL,
    insurance_fen INTEGER NOT NULL CHECK (insurance_fen >= 0),
    public_health_fen INTEGER NOT NULL CHECK (public_health_fen >= 0),
    resident_fen INTEGER NOT NULL CHECK (resident_fen >= 0),
    created_at_us INTEGER NOT NULL
);

-- A care relationship may run until a given instant (a contract's last day).
ALTER TABLE care_relationships ADD COLUMN until_us INTEGER;

CREATE TABLE contracts (
    id INTEGER PRIMARY KEY,
    resident_id INTEGER NOT NULL REFERENCES residents(id),
    team_id INTEGER NOT NULL REFERENCES teams(id),
    institution_id INTEGER NOT NULL REFERENCES institutions(id),
    status TEXT NOT NULL,
    start_on TEXT NOT NULL,
    end_on TEXT NOT NULL,
    ended_on TEXT,
    end_reason TEXT,
    previous_id INTEGER REFERENCES contracts(id),
    insurance_fen INTEGER NOT NULL,
    public_health_fen INTEGER NOT NULL,
    resident_fen INTEGER NOT NULL,
    signed_by_staff_id INTEGER NOT NULL REFERENCES staff(id),
    care_relationship_id INTEGER NOT NULL REFERENCES care_relationships(id),
    signed_at_us INTEGER NOT NULL,
    changed_at_us INTEGER NOT NULL
);
-- One team per resident at a time: at most one active contract.
CREATE UNIQUE INDEX contracts_one_active ON contracts(resident_id) WHERE status = 'active';
CREATE INDEX contracts_resident ON contracts(resident_id, id);
CREATE INDEX contracts_institution_end ON contracts(institution_id, end_on, id) WHERE status = 'active';

CREATE TABLE contract_packages (
    contract_id INTEGER NOT NULL REFERENCES contracts(id),
    package_id INTEGER NOT NULL REFERENCES service_packages(id),
    insurance_fen INTEGER NOT NULL,
    public_health_fen INTEGER NOT NULL,
    resident_fen INTEGER NOT NULL,
    PRIMARY KEY (contract_id, package_id)
);
