-- Chronic-disease management (慢病管理), DOMAIN.md §2: enrolments, follow-ups with
-- the rules' verdict and rule-set version, and the tasks urgent referrals create.

CREATE TABLE chronic_enrolments (
    id INTEGER PRIMARY KEY,
    resident_id INTEGER NOT NULL REFERENCES residents(id),
    disease TEXT NOT NULL,
    icd10 TEXT NOT NULL,
    diagnosed_on TEXT NOT NULL,
    diagnosing_institution_id INTEGER REFERENCES institutions(id),
    diagnosed_offline INTEGER NOT NULL,
    institution_id INTEGER NOT NULL REFERENCES institutions(id),
    status TEXT NOT NULL,
    enrolled_on TEXT NOT NULL,
    ended_on TEXT,
    end_reason TEXT,
    enrolled_by_staff_id INTEGER NOT NULL REFERENCES staff(id),
    -- Hypertension risk factors (the guideline's inputs) and the stratification.
    smoking INTEGER NOT NULL DEFAULT 0,
    dyslipidaemia INTEGER NOT NULL DEFAULT 0,
    impaired_glucose INTEGER NOT NULL DEFAULT 0,
    family_history_early_cvd INTEGER NOT NULL DEFAULT 0,
    target_organ_damage INTEGER NOT NULL DEFAULT 0,
    ckd_stage INTEGER NOT NULL DEFAULT 0,
    cvd INTEGER NOT NULL DEFAULT 0,
    diabetes_complications INTEGER NOT NULL DEFAULT 0,
    highest_sbp_mmhg INTEGER,
    highest_dbp_mmhg INTEGER,
    -- The latest body size a follow-up measured (obesity is a risk factor).
    bmi_centi INTEGER,
    waist_cm INTEGER,
    risk_level TEXT,
    risk_factors TEXT,
    -- Maintained from the follow-ups as they are written.
    last_followup_on TEXT,
    last_face_to_face_on TEXT,
    last_classification INTEGER,
    next_due_on TEXT,
    created_at_us INTEGER NOT NULL,
    changed_at_us INTEGER NOT NULL
);
CREATE UNIQUE INDEX chronic_enrolments_one_active ON chronic_enrolments(resident_id, disease) WHERE status = 'active';
CREATE INDEX chronic_enrolments_institution ON chronic_enrolments(institution_id, disease, id);
CREATE INDEX chronic_enrolments_due ON chronic_enrolments(institution_id, next_due_on) WHERE status = 'active';

CREATE TABLE followups (
    id INTEGER PRIMARY KEY,
    enrolment_id INTEGER NOT NULL REFERENCES chronic_enrolments(id),
    resident_id INTEGER NOT NULL REFERENCES residents(id),
    disease TEXT NOT NULL,
    institution_id INTEGER NOT NULL REFERENCES institutions(id),
    staff_id INTEGER NOT NULL REFERENCES staff(id),
    method TEXT NOT NULL,
    visit_on TEXT NOT NULL,
    age_years INTEGER NOT NULL,
    sbp_mmhg INTEGER,
    dbp_mmhg INTEGER,
    fpg_centi_mmol INTEGER,
    hba1c_centi_percent INTEGER,
    heart_rate_bpm INTEGER,
    temperature_centi_c INTEGER,
    weight_centi_kg INTEGER,
    height_cm INTEGER,
    bmi_centi INTEGER,
    waist_cm INTEGER,
    dorsalis_pedis TEXT,
    symptoms TEXT NOT NULL,
    pregnant_or_breastfeeding INTEGER NOT NULL,
    adverse_reaction TEXT NOT NULL,
    complication TEXT NOT NULL,
    cigarettes_per_day INTEGER,
    alcohol_ml_per_day INTEGER,
    exercise_sessions_per_week INTEGER,
    exercise_minutes_per_session INTEGER,
    salt_intake TEXT,
    staple_food_g_per_day INTEGER,
    adherence TEXT,
    hypoglycaemia TEXT,
    insulin TEXT,
    note TEXT,
    classification INTEGER,
    urgent_referral INTEGER NOT NULL,
    refer INTEGER NOT NULL,
    reasons TEXT NOT NULL,
    next_due_on TEXT NOT NULL,
    counts_face_to_face INTEGER NOT NULL,
    ruleset_version TEXT NOT NULL,
    created_at_us INTEGER NOT NULL
);
CREATE INDEX followups_enrolment ON followups(enrolment_id, visit_on, id);
CREATE INDEX followups_resident ON followups(resident_id, id);

CREATE TABLE followup_drugs (
    followup_id INTEGER NOT NULL REFERENCES followups(id),
    position INTEGER NOT NULL,
    name TEXT NOT NULL,
    dose TEXT NOT NULL,
    PRIMARY KEY (followup_id, position)
);

CREATE TABLE chronic_tasks (
    id INTEGER PRIMARY KEY,
    resident_id INTEGER NOT NULL REFERENCES residents(id),
    enrolment_id INTEGER NOT NULL REFERENCES chronic_enrolments(id),
    institution_id INTEGER NOT NULL REFERENCES institutions(id),
    kind TEXT NOT NULL,
    due_on TEXT NOT NULL,
    source_followup_id INTEGER REFERENCES followups(id),
    status TEXT NOT NULL,
    done_followup_id INTEGER REFERENCES followups(id),
    created_at_us INTEGER NOT NULL,
    done_at_us INTEGER
);
CREATE INDEX chronic_tasks_open ON chronic_tasks(institution_id, due_on, id) WHERE status = 'open';
CREATE INDEX chronic_tasks_enrolment ON chronic_tasks(enrolment_id, status);
