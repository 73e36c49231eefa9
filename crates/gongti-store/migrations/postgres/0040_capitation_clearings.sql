-- The year-end clearing (年度清算, DOMAIN.md §6, issue 17 point 5). Once the year is
-- over the insurance officer freezes its data: each institution's members counted by
-- the days they were actually enrolled (every person with their days and their part
-- of B, so that B is traced to them), the year's quality terms, the fund-paid costs of
-- the members' care at every level (each person's too) and the prepayments paid; the
-- clearing is computed from these frozen inputs under the year's scheme version and
-- can be recomputed from them to the fen. Each institution then confirms or disputes
-- (with a reason), the officer approves (answering a dispute), the balance is paid or
-- recovered, and the year closes.
ALTER TABLE capitation_years ADD COLUMN frozen_at_us BIGINT;
ALTER TABLE capitation_years ADD COLUMN frozen_by_staff_id BIGINT REFERENCES staff(id);
ALTER TABLE capitation_years ADD COLUMN closed_at_us BIGINT;
ALTER TABLE capitation_years ADD COLUMN closed_by_staff_id BIGINT REFERENCES staff(id);

CREATE TABLE capitation_clearings (
    year BIGINT NOT NULL REFERENCES capitation_years(year),
    institution_id BIGINT NOT NULL REFERENCES institutions(id),
    persons_contracted BIGINT NOT NULL,
    persons_mt_hypertension BIGINT NOT NULL,
    persons_mt_diabetes BIGINT NOT NULL,
    days_contracted BIGINT NOT NULL,
    days_mt_hypertension BIGINT NOT NULL,
    days_mt_diabetes BIGINT NOT NULL,
    budget_fen BIGINT NOT NULL CHECK (budget_fen >= 0),
    prepaid_fen BIGINT NOT NULL CHECK (prepaid_fen >= 0),
    -- the seven terms' numerator/denominator, comma-separated (core::payment::quality)
    quality_counts TEXT NOT NULL,
    cost_pharmacy_fen BIGINT NOT NULL,
    cost_exam_fen BIGINT NOT NULL,
    cost_bureau_fen BIGINT NOT NULL,
    cost_grassroots_fen BIGINT NOT NULL,
    cost_internet_fen BIGINT NOT NULL,
    cost_secondary_fen BIGINT NOT NULL,
    cost_tertiary_fen BIGINT NOT NULL,
    cost_outside_fen BIGINT NOT NULL,
    cost_lines BIGINT NOT NULL,
    -- the figures computed from the inputs above
    score_micro BIGINT,
    multiplier_micro BIGINT NOT NULL,
    adjusted_budget_fen BIGINT NOT NULL,
    surplus_fen BIGINT NOT NULL,
    retained_fen BIGINT NOT NULL,
    fund_covers_fen BIGINT NOT NULL,
    community_bears_fen BIGINT NOT NULL,
    balance_fen BIGINT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('computed', 'confirmed', 'disputed', 'approved', 'paid', 'recovered')),
    -- the freeze these figures came from: a step names the one its taker saw
    frozen_at_us BIGINT NOT NULL,
    reason TEXT,
    reply TEXT,
    answered_by_staff_id BIGINT REFERENCES staff(id),
    answered_at_us BIGINT,
    approved_by_staff_id BIGINT REFERENCES staff(id),
    approved_at_us BIGINT,
    settled_by_staff_id BIGINT REFERENCES staff(id),
    settled_at_us BIGINT,
    PRIMARY KEY (year, institution_id)
);

-- Each person counted in an institution's clearing: the days under each scheme there,
-- their part of B before the division by the year's days (rate × weight × days, in
-- millionths of a fen) and the fund-paid cost counted there.
CREATE TABLE clearing_members (
    year BIGINT NOT NULL,
    institution_id BIGINT NOT NULL,
    resident_id BIGINT NOT NULL REFERENCES residents(id),
    age BIGINT NOT NULL,
    condition TEXT NOT NULL,
    days_contracted BIGINT NOT NULL,
    days_mt_hypertension BIGINT NOT NULL,
    days_mt_diabetes BIGINT NOT NULL,
    share_micro_fen BIGINT NOT NULL,
    cost_fen BIGINT NOT NULL,
    PRIMARY KEY (year, institution_id, resident_id),
    FOREIGN KEY (year, institution_id) REFERENCES capitation_clearings(year, institution_id)
);
