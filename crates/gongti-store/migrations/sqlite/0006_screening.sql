-- Hypertension screening (高血压筛查), DOMAIN.md §2: office BP readings taken to screen,
-- the high-risk profile, and each resident's screening status as the rules last
-- decided it (kept for the worklists).

CREATE TABLE screening_readings (
    id INTEGER PRIMARY KEY,
    resident_id INTEGER NOT NULL REFERENCES residents(id),
    institution_id INTEGER NOT NULL REFERENCES institutions(id),
    staff_id INTEGER NOT NULL REFERENCES staff(id),
    measured_on TEXT NOT NULL,
    sbp_mmhg INTEGER NOT NULL,
    dbp_mmhg INTEGER NOT NULL,
    created_at_us INTEGER NOT NULL
);
CREATE INDEX screening_readings_resident ON screening_readings(resident_id, measured_on);

CREATE TABLE screening_profiles (
    resident_id INTEGER PRIMARY KEY REFERENCES residents(id),
    bmi_centi INTEGER,
    waist_cm INTEGER,
    family_history INTEGER NOT NULL,
    high_salt_diet INTEGER NOT NULL,
    heavy_drinking INTEGER NOT NULL,
    updated_at_us INTEGER NOT NULL
);

CREATE TABLE screening_status (
    resident_id INTEGER PRIMARY KEY REFERENCES residents(id),
    institution_id INTEGER NOT NULL REFERENCES institutions(id),
    state TEXT NOT NULL,
    raised_days INTEGER NOT NULL,
    high_risk INTEGER NOT NULL,
    next_bp_due TEXT,
    followup_by TEXT,
    updated_at_us INTEGER NOT NULL
);
CREATE INDEX screening_status_worklist ON screening_status(institution_id, state, next_bp_due);
