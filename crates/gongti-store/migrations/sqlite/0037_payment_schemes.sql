-- The payment scheme's versions (DOMAIN.md §5–§6, issue 17): each the whole set of
-- parameters as canonical text (core::payment::scheme::Scheme::text), numbered 1, 2, …
-- in the order saved, in force from its day — a year's capitation takes the version in
-- force on its first day, an incentive month the one in force on the month's first day
-- — and never changed once saved: a change is a new version. A settlement records the
-- version it used.
CREATE TABLE payment_scheme_versions (
    id INTEGER PRIMARY KEY,
    effective_from TEXT NOT NULL,
    params TEXT NOT NULL,
    note TEXT NOT NULL,
    based_on INTEGER REFERENCES payment_scheme_versions(id),
    created_by_staff_id INTEGER NOT NULL REFERENCES staff(id),
    created_at_us INTEGER NOT NULL
);
CREATE INDEX payment_scheme_versions_effective ON payment_scheme_versions(effective_from, id);
