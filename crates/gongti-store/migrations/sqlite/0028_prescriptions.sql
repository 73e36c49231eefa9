-- Issued prescriptions, their review (处方审核) and their filling (处方流转, DOMAIN.md §4). A prescription's row
-- holds where it stands; every version is kept with its canonical text, the
-- prescriber's signature over it and the findings that screened it (with the rule
-- set's version); every step (a pharmacist's pass, return or refusal, the prescriber's
-- confirmation, revision or cancel) is kept with who, when, why and its signature.

CREATE TABLE prescriptions (
    id INTEGER PRIMARY KEY,
    resident_id INTEGER NOT NULL REFERENCES residents(id),
    institution_id INTEGER NOT NULL REFERENCES institutions(id),
    prescriber_staff_id INTEGER NOT NULL REFERENCES staff(id),
    status TEXT NOT NULL CHECK (status IN ('pending_review', 'returned', 'passed', 'refused', 'cancelled', 'dispensed')),
    version INTEGER NOT NULL,
    channel TEXT NOT NULL,
    -- The current version's most severe finding: 0 high … 3 none (the queue's order).
    queue_rank INTEGER NOT NULL,
    -- The prescriber has confirmed the current version's findings (双签).
    confirmed INTEGER NOT NULL DEFAULT 0,
    -- When it last entered the pharmacists' queue.
    waiting_since_us INTEGER NOT NULL,
    issued_at_us INTEGER NOT NULL,
    changed_at_us INTEGER NOT NULL,
    -- Where it goes once passed (处方流转): the pharmacy (an institution), pickup or
    -- delivery, and the address for a delivery.
    pharmacy_id INTEGER REFERENCES institutions(id),
    fulfilment TEXT CHECK (fulfilment IN ('pickup', 'delivery')),
    delivery_address TEXT
);
CREATE INDEX prescriptions_queue ON prescriptions (status, queue_rank, waiting_since_us, id);
CREATE INDEX prescriptions_resident ON prescriptions (resident_id, id);
CREATE INDEX prescriptions_prescriber ON prescriptions (prescriber_staff_id, id);
CREATE INDEX prescriptions_institution ON prescriptions (institution_id, status, id);

CREATE TABLE prescription_versions (
    prescription_id INTEGER NOT NULL REFERENCES prescriptions(id),
    version INTEGER NOT NULL,
    -- The canonical text (gongti_core::pharmacy::prescription::RxContent), signed.
    content TEXT NOT NULL,
    digest TEXT NOT NULL,
    signature TEXT NOT NULL,
    signer_key TEXT NOT NULL,
    verdict TEXT NOT NULL,
    ruleset_version TEXT NOT NULL,
    -- The findings as JSON, as the check gave them.
    findings TEXT NOT NULL,
    at_us INTEGER NOT NULL,
    PRIMARY KEY (prescription_id, version)
);

CREATE TABLE prescription_steps (
    id INTEGER PRIMARY KEY,
    prescription_id INTEGER NOT NULL REFERENCES prescriptions(id),
    version INTEGER NOT NULL,
    step TEXT NOT NULL,
    status TEXT NOT NULL,
    staff_id INTEGER NOT NULL REFERENCES staff(id),
    reason TEXT,
    signature TEXT,
    signer_key TEXT,
    at_us INTEGER NOT NULL
);
CREATE INDEX prescription_steps_prescription ON prescription_steps (prescription_id, id);

-- The public half of each signing key a staff member has signed with (the secret is
-- derived from the data key and never stored), so every signature can be checked.
CREATE TABLE signing_keys (
    public_key TEXT PRIMARY KEY,
    staff_id INTEGER NOT NULL REFERENCES staff(id),
    data_key_id INTEGER NOT NULL,
    first_used_us INTEGER NOT NULL
);

-- Each pharmacy's stock, in packs of a product of the formulary; never below zero.
CREATE TABLE drug_stock (
    institution_id INTEGER NOT NULL REFERENCES institutions(id),
    product_code TEXT NOT NULL,
    on_hand_packs INTEGER NOT NULL CHECK (on_hand_packs >= 0),
    updated_at_us INTEGER NOT NULL,
    PRIMARY KEY (institution_id, product_code)
);

-- A prescription's one fill (its key is the prescription: it is filled once), who
-- collected it (an agent's identity beside the patient's; the ID number sealed) or
-- where it was delivered with the recipient's code (sealed), and where it stands.
CREATE TABLE prescription_fills (
    prescription_id INTEGER PRIMARY KEY REFERENCES prescriptions(id),
    pharmacy_id INTEGER NOT NULL REFERENCES institutions(id),
    fulfilment TEXT NOT NULL CHECK (fulfilment IN ('pickup', 'delivery')),
    status TEXT NOT NULL,
    staff_id INTEGER NOT NULL REFERENCES staff(id),
    collector_name TEXT,
    collector_id_number TEXT,
    by_agent INTEGER NOT NULL,
    delivery_address TEXT,
    recipient_code TEXT,
    amount_fen INTEGER NOT NULL,
    dispensed_at_us INTEGER NOT NULL,
    changed_at_us INTEGER NOT NULL
);
CREATE INDEX prescription_fills_pharmacy ON prescription_fills (pharmacy_id, status, prescription_id);

CREATE TABLE prescription_fill_lines (
    prescription_id INTEGER NOT NULL REFERENCES prescription_fills(prescription_id),
    line_no INTEGER NOT NULL,
    product_code TEXT NOT NULL,
    packs INTEGER NOT NULL,
    amount_fen INTEGER NOT NULL,
    PRIMARY KEY (prescription_id, line_no)
);

CREATE TABLE prescription_fill_events (
    id INTEGER PRIMARY KEY,
    prescription_id INTEGER NOT NULL REFERENCES prescription_fills(prescription_id),
    status TEXT NOT NULL,
    staff_id INTEGER REFERENCES staff(id),
    note TEXT,
    at_us INTEGER NOT NULL
);
CREATE INDEX prescription_fill_events_fill ON prescription_fill_events (prescription_id, id);
