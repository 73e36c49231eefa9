-- The year-end clearing (年度清算, DOMAIN.md §6, issue 17 point 5). Once the year is
-- over the insurance officer freezes its data: each institution's members counted by
-- the days they were actually enrolled (every person with their days and their part
-- of B, so that B is traced to them), the year's quality terms, the fund-paid costs of
-- the members' care at every level (each person's too) and the prepayments paid; the
-- clearing is computed from these frozen inputs under the year's scheme version and
-- can be recomputed from them to the fen. Each institution then confirms or disputes
-- (with a reason), the officer approves (answering a dispute), the balance is paid or
-- recovered, and the year closes.
ALTER TABLE capitation_years ADD COLUMN frozen_at_us INTEGER;
ALTER TABLE capitation_years ADD COLUMN frozen_by_staff_id INTEGER REFERENCES staff(id);
ALTER TABLE capitation_years ADD COLUMN closed_at_us INTEGER;
ALTER TABLE capitation_years ADD COLUMN closed_by_staff_id INTEGER REFERENCES staff(id);

CREATE TABLE capitation_clearings (
    year INTEGER NOT NULL REFERENCES capitation_years(year),
    institution_id INTEGER NOT NULL REFERENCES institutions(id),
    persons_contracted INTEGER NOT NULL,
    persons_mt_hypertension INTEGER NOT NULL,
    persons_mt_diabetes INTEGER NOT NULL,
    days_contracted INTEGER NOT NULL,
    days_mt_hypertension INTEGER NOT NULL,
    days_mt_diabetes INTEGER NOT NULL,
    budget_fen INTEGER NOT NULL CHECK (budget_fen >= 0),
    prepaid_fen INTEGER NOT NULL CHECK (prepaid_fen >= 0),
    -- the seven terms' numerator/denominator, comma-separated (core::payment::quality)
    quality_counts TEXT NOT NULL,
    cost_pharmacy_fen INTEGER NOT NULL,
    cost_exam_fen INTEGER NOT NULL,
    cost_bureau_fen INTEGER NOT NULL,
    cost_grassroots_fen INTEGER NOT NULL,
    cost_internet_fen INTEGER NOT NULL,
    cost_secondary_fen INTEGER NOT NULL,
    cost_tertiary_fen INTEGER NOT NULL,
    cost_outside_fen INTEGER NOT NULL,
    cost_lines INTEGER NOT NULL,
    -- the figures computed from the inputs above
    score_micro INTEGER,
    multiplier_micro INTEGER NOT NULL,
    adjusted_budget_fen INTEGER NOT NULL,
    surplus_fen INTEGER NOT NULL,
    retained_fen INTEGER NOT NULL,
    fund_covers_fen INTEGER NOT NULL,
    community_bears_fen INTEGER NOT NULL,
    balance_fen INTEGER NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('computed', 'confirmed', 'disputed', 'approved', 'paid', 'recovered')),
    -- the freeze these figures came from: a step names the one its taker saw
    frozen_at_us INTEGER NOT NULL,
    reason TEXT,
    reply TEXT,
    answered_by_staff_id INTEGER REFERENCES staff(id),
    answered_at_us INTEGER,
    approved_by_staff_id INTEGER REFERENCES staff(id),
    approved_at_us INTEGER,
    settled_by_staff_id INTEGER REFERENCES staff(id),
    settled_at_us INTEGER,
    PRIMARY KEY (year, institution_id)
);

-- Each person counted in an institution's clearing: the days under each scheme there,
-- their part of B before the division by the year's days (rate × weight × days, in
-- millionths of a fen) and the fund-paid cost counted there.
CREATE TABLE clearing_members (
    year INTEGER NOT NULL,
    institution_id INTEGER NOT NULL,
    resident_id INTEGER NOT NULL REFERENCES residents(id),
    age INTEGER NOT NULL,
    condition TEXT NOT NULL,
    days_contracted INTEGER NOT NULL,
    days_mt_hypertension INTEGER NOT NULL,
    days_mt_diabetes INTEGER NOT NULL,
    share_micro_fen INTEGER NOT NULL,
    cost_fen INTEGER NOT NULL,
    PRIMARY KEY (year, institution_id, resident_id),
    FOREIGN KEY (year, institution_id) REFERENCES capitation_clearings(year, institution_id)
);
