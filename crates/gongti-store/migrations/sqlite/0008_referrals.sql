-- Two-way referral (双向转诊, DOMAIN.md §3): the referral with its clinical summary,
-- each step on its timeline, and the family doctor's follow-up task after the return.

CREATE TABLE referrals (
    id INTEGER PRIMARY KEY,
    resident_id INTEGER NOT NULL REFERENCES residents(id),
    disease TEXT NOT NULL,
    urgency TEXT NOT NULL,
    status TEXT NOT NULL,
    from_institution_id INTEGER NOT NULL REFERENCES institutions(id),
    from_staff_id INTEGER NOT NULL REFERENCES staff(id),
    to_institution_id INTEGER NOT NULL REFERENCES institutions(id),
    to_department_id INTEGER NOT NULL REFERENCES departments(id),
    booking_id INTEGER REFERENCES bookings(id),
    source_kind TEXT NOT NULL,
    source_id INTEGER,
    reason TEXT NOT NULL,
    rules TEXT,
    summary TEXT NOT NULL,
    reject_reason TEXT,
    return_plan TEXT,
    followup_due_on TEXT,
    care_relationship_id INTEGER NOT NULL REFERENCES care_relationships(id),
    created_at_us INTEGER NOT NULL,
    changed_at_us INTEGER NOT NULL
);
-- One referral under way per patient and receiving department.
CREATE UNIQUE INDEX referrals_open ON referrals(resident_id, to_department_id)
    WHERE status IN ('requested', 'accepted', 'arrived', 'seen');
CREATE INDEX referrals_inbox ON referrals(to_institution_id, status, id);
CREATE INDEX referrals_sent ON referrals(from_institution_id, status, id);
CREATE INDEX referrals_resident ON referrals(resident_id, id);

CREATE TABLE referral_events (
    id INTEGER PRIMARY KEY,
    referral_id INTEGER NOT NULL REFERENCES referrals(id),
    step TEXT NOT NULL,
    status TEXT NOT NULL,
    staff_id INTEGER NOT NULL REFERENCES staff(id),
    institution_id INTEGER REFERENCES institutions(id),
    note TEXT,
    at_us INTEGER NOT NULL
);
CREATE INDEX referral_events_referral ON referral_events(referral_id, id);

-- A follow-up task may come from a referral back down; it opens on a day.
ALTER TABLE chronic_tasks ADD COLUMN source_referral_id INTEGER REFERENCES referrals(id);
ALTER TABLE chronic_tasks ADD COLUMN opened_on TEXT;
