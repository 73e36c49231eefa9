-- Foundation: region, staff, sign-ins, residents (MPI), care relationships, audit.
CREATE TABLE districts (
    code TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    city_code TEXT NOT NULL
);

CREATE TABLE institutions (
    id INTEGER PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    district_code TEXT NOT NULL REFERENCES districts(code),
    upper_institution_id INTEGER REFERENCES institutions(id),
    created_at_us INTEGER NOT NULL
);
CREATE INDEX institutions_district ON institutions(district_code, id);
CREATE INDEX institutions_upper ON institutions(upper_institution_id);

CREATE TABLE departments (
    id INTEGER PRIMARY KEY,
    institution_id INTEGER NOT NULL REFERENCES institutions(id),
    code TEXT NOT NULL,
    name TEXT NOT NULL,
    UNIQUE (institution_id, code)
);

CREATE TABLE staff (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    role TEXT NOT NULL,
    institution_id INTEGER REFERENCES institutions(id),
    district_code TEXT REFERENCES districts(code),
    department_id INTEGER REFERENCES departments(id),
    licence_number TEXT,
    title TEXT,
    practice_years INTEGER NOT NULL DEFAULT 0,
    created_at_us INTEGER NOT NULL
);
CREATE INDEX staff_institution ON staff(institution_id, id);
CREATE INDEX staff_name ON staff(name);

CREATE TABLE teams (
    id INTEGER PRIMARY KEY,
    institution_id INTEGER NOT NULL REFERENCES institutions(id),
    name TEXT NOT NULL,
    doctor_staff_id INTEGER NOT NULL REFERENCES staff(id),
    nurse_staff_id INTEGER NOT NULL REFERENCES staff(id),
    public_health_staff_id INTEGER NOT NULL REFERENCES staff(id),
    created_at_us INTEGER NOT NULL
);
CREATE INDEX teams_institution ON teams(institution_id);

CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    staff_id INTEGER NOT NULL REFERENCES staff(id),
    failed_attempts INTEGER NOT NULL DEFAULT 0,
    locked_until_us INTEGER,
    disabled INTEGER NOT NULL DEFAULT 0,
    created_at_us INTEGER NOT NULL
);

CREATE TABLE tokens (
    token_hash BLOB PRIMARY KEY,
    user_id INTEGER NOT NULL REFERENCES users(id),
    kind TEXT NOT NULL,
    csrf TEXT,
    expires_at_us INTEGER NOT NULL,
    created_at_us INTEGER NOT NULL
);
CREATE INDEX tokens_expiry ON tokens(expires_at_us);

CREATE TABLE residents (
    id INTEGER PRIMARY KEY,
    id_number TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    sex TEXT NOT NULL,
    birth_date TEXT NOT NULL,
    phone TEXT,
    address TEXT,
    household TEXT,
    home_institution_id INTEGER NOT NULL REFERENCES institutions(id),
    merged_into_id INTEGER REFERENCES residents(id),
    created_at_us INTEGER NOT NULL,
    updated_at_us INTEGER NOT NULL
);
CREATE INDEX residents_name ON residents(name, id);
CREATE INDEX residents_home ON residents(home_institution_id, id);
CREATE INDEX residents_birth ON residents(birth_date);
CREATE INDEX residents_household ON residents(household);

CREATE TABLE care_relationships (
    id INTEGER PRIMARY KEY,
    resident_id INTEGER NOT NULL REFERENCES residents(id),
    institution_id INTEGER NOT NULL REFERENCES institutions(id),
    kind TEXT NOT NULL,
    opened_at_us INTEGER NOT NULL,
    closed_at_us INTEGER
);
CREATE INDEX care_relationships_resident ON care_relationships(resident_id);

CREATE TABLE audit_log (
    seq INTEGER PRIMARY KEY,
    at_us INTEGER NOT NULL,
    actor_user_id INTEGER,
    actor_username TEXT NOT NULL,
    role TEXT,
    institution_id INTEGER,
    action TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    resource_id TEXT,
    patient_id INTEGER,
    reason TEXT,
    outcome TEXT NOT NULL,
    detail TEXT,
    request_id TEXT,
    prev_hash BLOB NOT NULL,
    hash BLOB NOT NULL
);
CREATE INDEX audit_log_patient ON audit_log(patient_id, seq);

CREATE TABLE settings (
    key TEXT PRIMARY KEY,
    value TEXT NOT NULL
);
