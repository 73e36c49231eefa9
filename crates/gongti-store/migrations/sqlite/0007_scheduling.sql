-- Schedules, slots and bookings at upper hospitals, with the share of slots held back
-- for grassroots family doctors (DOMAIN.md §3).

-- The reserved share and release window of a hospital, or of one of its departments
-- (a department's policy overrides its hospital's; none means the defaults).
CREATE TABLE reserve_policies (
    id INTEGER PRIMARY KEY,
    institution_id INTEGER NOT NULL REFERENCES institutions(id),
    department_id INTEGER REFERENCES departments(id),
    reserved_permille INTEGER NOT NULL CHECK (reserved_permille BETWEEN 0 AND 1000),
    release_days INTEGER NOT NULL CHECK (release_days >= 0),
    updated_by_staff_id INTEGER REFERENCES staff(id),
    updated_at_us INTEGER NOT NULL
);
CREATE UNIQUE INDEX reserve_policies_scope ON reserve_policies(institution_id, COALESCE(department_id, 0));

CREATE TABLE schedules (
    id INTEGER PRIMARY KEY,
    institution_id INTEGER NOT NULL REFERENCES institutions(id),
    department_id INTEGER NOT NULL REFERENCES departments(id),
    doctor_staff_id INTEGER REFERENCES staff(id),
    clinic_name TEXT,
    day TEXT NOT NULL,
    session TEXT NOT NULL,
    reserved_permille INTEGER NOT NULL,
    release_days INTEGER NOT NULL,
    status TEXT NOT NULL,
    created_by_staff_id INTEGER REFERENCES staff(id),
    created_at_us INTEGER NOT NULL,
    updated_at_us INTEGER NOT NULL
);
CREATE INDEX schedules_department_day ON schedules(department_id, day, id);
CREATE INDEX schedules_institution_day ON schedules(institution_id, day, id);

-- status: 'free', 'booked' (a booking holds it), 'withdrawn' (a capacity cut).
CREATE TABLE slots (
    id INTEGER PRIMARY KEY,
    schedule_id INTEGER NOT NULL REFERENCES schedules(id),
    seq INTEGER NOT NULL,
    starts_at_us INTEGER NOT NULL,
    ends_at_us INTEGER NOT NULL,
    pool TEXT NOT NULL,
    status TEXT NOT NULL,
    UNIQUE (schedule_id, seq)
);
CREATE INDEX slots_free ON slots(schedule_id, status, pool, starts_at_us);

CREATE TABLE bookings (
    id INTEGER PRIMARY KEY,
    slot_id INTEGER NOT NULL REFERENCES slots(id),
    schedule_id INTEGER NOT NULL REFERENCES schedules(id),
    resident_id INTEGER NOT NULL REFERENCES residents(id),
    institution_id INTEGER NOT NULL REFERENCES institutions(id),
    department_id INTEGER NOT NULL REFERENCES departments(id),
    day TEXT NOT NULL,
    pool TEXT NOT NULL,
    status TEXT NOT NULL,
    booked_by_staff_id INTEGER REFERENCES staff(id),
    care_relationship_id INTEGER NOT NULL REFERENCES care_relationships(id),
    note TEXT,
    created_at_us INTEGER NOT NULL,
    changed_at_us INTEGER NOT NULL
);
-- A slot is never booked twice; one active booking per patient, department and day.
CREATE UNIQUE INDEX bookings_slot_active ON bookings(slot_id) WHERE status IN ('booked', 'checked_in');
CREATE UNIQUE INDEX bookings_patient_day ON bookings(resident_id, department_id, day) WHERE status IN ('booked', 'checked_in');
CREATE INDEX bookings_resident ON bookings(resident_id, id);
CREATE INDEX bookings_schedule ON bookings(schedule_id, id);
