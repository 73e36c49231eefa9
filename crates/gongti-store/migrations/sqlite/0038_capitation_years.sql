-- A year of capitation under a total budget (DOMAIN.md §6, issue 17 point 2): the
-- insurance officer approves the year's budget under the scheme version in force on
-- its first day — each institution's members counted from the contracts and chronic
-- enrolments on the day of approval, projected to the year's end — and its twelve
-- monthly prepayments (月预拨), round(α × B) spread so that they sum exactly, each
-- paid in turn. The year's later states (data frozen, quality scored, clearing
-- computed, confirmed or disputed, approved, paid or recovered, closed) follow.
CREATE TABLE capitation_years (
    year INTEGER PRIMARY KEY,
    scheme_version INTEGER NOT NULL REFERENCES payment_scheme_versions(id),
    state TEXT NOT NULL CHECK (state IN ('budget_approved', 'data_frozen', 'quality_scored',
        'clearing_computed', 'approved', 'settled', 'closed')),
    days_in_year INTEGER NOT NULL,
    counted_on TEXT NOT NULL,
    approved_by_staff_id INTEGER NOT NULL REFERENCES staff(id),
    approved_at_us INTEGER NOT NULL
);

-- Each institution's budget of the year, with the persons and person-days behind it.
CREATE TABLE capitation_budgets (
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
    PRIMARY KEY (year, institution_id)
);

-- The monthly prepayments, each recorded as a payment with its state.
CREATE TABLE capitation_prepayments (
    year INTEGER NOT NULL,
    institution_id INTEGER NOT NULL,
    month INTEGER NOT NULL CHECK (month BETWEEN 1 AND 12),
    amount_fen INTEGER NOT NULL CHECK (amount_fen >= 0),
    state TEXT NOT NULL CHECK (state IN ('scheduled', 'paid')),
    paid_at_us INTEGER,
    paid_by_staff_id INTEGER REFERENCES staff(id),
    PRIMARY KEY (year, institution_id, month),
    FOREIGN KEY (year, institution_id) REFERENCES capitation_budgets(year, institution_id)
);
