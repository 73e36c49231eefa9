-- An institution's incentive month settled (绩效考核激励资金池, DOMAIN.md §6, issue 17
-- point 7). Once the month is over its administrator locks it: the sources entered
-- (retained surplus, public-health performance funds) beside the contract fee's team
-- share counted, every person's units, post, quality factor, work counts and pay, and
-- every work item behind them, frozen as counted. A member of staff may appeal while
-- it is locked; the administrator answers (upheld reopens the month for a new count,
-- the appeal kept); the committee (绩效考核管理委员会: the district's or the city's
-- health commission) approves it once no appeal is open; the administrator records it
-- paid.
CREATE TABLE incentive_months (
    institution_id INTEGER NOT NULL REFERENCES institutions(id),
    year INTEGER NOT NULL,
    month INTEGER NOT NULL CHECK (month BETWEEN 1 AND 12),
    scheme_version INTEGER NOT NULL REFERENCES payment_scheme_versions(id),
    state TEXT NOT NULL CHECK (state IN ('locked', 'approved', 'paid')),
    pool_fen INTEGER NOT NULL CHECK (pool_fen >= 0),
    locked_by_staff_id INTEGER NOT NULL REFERENCES staff(id),
    locked_at_us INTEGER NOT NULL,
    approved_by_staff_id INTEGER REFERENCES staff(id),
    approved_at_us INTEGER,
    approval_note TEXT,
    paid_by_staff_id INTEGER REFERENCES staff(id),
    paid_at_us INTEGER,
    PRIMARY KEY (institution_id, year, month)
);

CREATE TABLE incentive_sources (
    institution_id INTEGER NOT NULL,
    year INTEGER NOT NULL,
    month INTEGER NOT NULL,
    source TEXT NOT NULL CHECK (source IN ('retained_surplus', 'contract_fee_team', 'public_health_performance')),
    amount_fen INTEGER NOT NULL CHECK (amount_fen >= 0),
    PRIMARY KEY (institution_id, year, month, source),
    FOREIGN KEY (institution_id, year, month) REFERENCES incentive_months(institution_id, year, month)
);

-- Units, post and quality in ten-thousandths; the work counts by kind, comma-separated.
CREATE TABLE incentive_payouts (
    institution_id INTEGER NOT NULL,
    year INTEGER NOT NULL,
    month INTEGER NOT NULL,
    staff_id INTEGER NOT NULL REFERENCES staff(id),
    team TEXT,
    counts TEXT NOT NULL,
    units INTEGER NOT NULL,
    post INTEGER NOT NULL,
    quality INTEGER NOT NULL,
    quality_rate INTEGER,
    pay_fen INTEGER NOT NULL CHECK (pay_fen >= 0),
    PRIMARY KEY (institution_id, year, month, staff_id),
    FOREIGN KEY (institution_id, year, month) REFERENCES incentive_months(institution_id, year, month)
);

CREATE TABLE incentive_work_items (
    institution_id INTEGER NOT NULL,
    year INTEGER NOT NULL,
    month INTEGER NOT NULL,
    staff_id INTEGER NOT NULL,
    kind TEXT NOT NULL,
    record_id INTEGER NOT NULL,
    at_us INTEGER,
    on_day TEXT,
    PRIMARY KEY (institution_id, year, month, kind, record_id),
    FOREIGN KEY (institution_id, year, month) REFERENCES incentive_months(institution_id, year, month)
);
CREATE INDEX incentive_work_items_staff ON incentive_work_items(institution_id, year, month, staff_id);

CREATE TABLE incentive_appeals (
    id INTEGER PRIMARY KEY,
    institution_id INTEGER NOT NULL REFERENCES institutions(id),
    year INTEGER NOT NULL,
    month INTEGER NOT NULL,
    staff_id INTEGER NOT NULL REFERENCES staff(id),
    reason TEXT NOT NULL,
    -- superseded: still open when another appeal was upheld and the month counted again
    state TEXT NOT NULL CHECK (state IN ('open', 'upheld', 'dismissed', 'superseded')),
    answer TEXT,
    created_at_us INTEGER NOT NULL,
    answered_by_staff_id INTEGER REFERENCES staff(id),
    answered_at_us INTEGER
);
CREATE INDEX incentive_appeals_month ON incentive_appeals(institution_id, year, month, id);
