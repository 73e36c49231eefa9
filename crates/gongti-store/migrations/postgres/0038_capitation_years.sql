-- A year of capitation under a total budget (DOMAIN.md §6, issue 17 point 2): the
-- insurance officer approves the year's budget under the scheme version in force on
-- its first day — each institution's members counted from the contracts and chronic
-- enrolments on the day of approval, projected to the year's end — and its twelve
-- monthly prepayments (月预拨), round(α × B) spread so that they sum exactly, each
-- paid in turn. The year's later states (data frozen, quality scored, clearing
-- computed, confirmed or disputed, approved, paid or recovered, closed) follow.
CREATE TABLE capitation_years (
    year BIGINT PRIMARY KEY,
    scheme_version BIGINT NOT NULL REFERENCES payment_scheme_versions(id),
    state TEXT NOT NULL CHECK (state IN ('budget_approved', 'data_frozen', 'quality_scored',
        'clearing_computed', 'approved', 'settled', 'closed')),
    days_in_year BIGINT NOT NULL,
    counted_on DATE NOT NULL,
    approved_by_staff_id BIGINT NOT NULL REFERENCES staff(id),
    approved_at_us BIGINT NOT NULL
);

-- Each institution's budget of the year, with the persons and person-days behind it.
CREATE TABLE capitation_budgets (
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
    PRIMARY KEY (year, institution_id)
);

-- The monthly prepayments, each recorded as a payment with its state.
CREATE TABLE capitation_prepayments (
    year BIGINT NOT NULL,
    institution_id BIGINT NOT NULL,
    month BIGINT NOT NULL CHECK (month BETWEEN 1 AND 12),
    amount_fen BIGINT NOT NULL CHECK (amount_fen >= 0),
    state TEXT NOT NULL CHECK (state IN ('scheduled', 'paid')),
    paid_at_us BIGINT,
    paid_by_staff_id BIGINT REFERENCES staff(id),
    PRIMARY KEY (year, institution_id, month),
    FOREIGN KEY (year, institution_id) REFERENCES capitation_budgets(year, institution_id)
);
