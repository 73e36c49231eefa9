-- Online repeat visits (互联网复诊, DOMAIN.md §4): the resident's request to their
-- family doctor's team or the internet hospital, about one disease, with the offline
-- diagnosis it rests on (kept as the doctor saw it), the doctor who took it, how it
-- ended (a prescription, or "go to a clinic" with a reason) and how long each record is
-- kept (the visit 15 years, its messages and images 3 years: NET-7). The institution
-- asked reads the resident's record while the visit is open (a care relationship).

CREATE TABLE online_visits (
    id INTEGER PRIMARY KEY,
    resident_id INTEGER NOT NULL REFERENCES residents(id),
    destination TEXT NOT NULL CHECK (destination IN ('team', 'internet_hospital')),
    institution_id INTEGER NOT NULL REFERENCES institutions(id),
    team_id INTEGER REFERENCES teams(id),
    disease_icd10 TEXT,
    complaint TEXT NOT NULL,
    -- gongti_core::pharmacy::visit::OfflineDiagnosis::text, when one was on file.
    basis TEXT,
    status TEXT NOT NULL CHECK (status IN ('waiting', 'open', 'prescribed', 'to_clinic', 'withdrawn')),
    doctor_staff_id INTEGER REFERENCES staff(id),
    prescription_id INTEGER REFERENCES prescriptions(id),
    end_reason TEXT,
    end_note TEXT,
    care_relationship_id INTEGER NOT NULL REFERENCES care_relationships(id),
    requested_at_us INTEGER NOT NULL,
    accepted_at_us INTEGER,
    ended_at_us INTEGER,
    changed_at_us INTEGER NOT NULL,
    keep_until TEXT NOT NULL
);
CREATE INDEX online_visits_queue ON online_visits (institution_id, status, requested_at_us, id);
CREATE INDEX online_visits_resident ON online_visits (resident_id, id);
CREATE INDEX online_visits_doctor ON online_visits (doctor_staff_id, status, id);

CREATE TABLE online_visit_messages (
    id INTEGER PRIMARY KEY,
    visit_id INTEGER NOT NULL REFERENCES online_visits(id),
    sender TEXT NOT NULL CHECK (sender IN ('resident', 'doctor')),
    staff_id INTEGER REFERENCES staff(id),
    body TEXT NOT NULL,
    sent_at_us INTEGER NOT NULL,
    keep_until TEXT NOT NULL
);
CREATE INDEX online_visit_messages_visit ON online_visit_messages (visit_id, id);

CREATE TABLE online_visit_images (
    id INTEGER PRIMARY KEY,
    visit_id INTEGER NOT NULL REFERENCES online_visits(id),
    message_id INTEGER NOT NULL REFERENCES online_visit_messages(id),
    content_type TEXT NOT NULL,
    size_bytes INTEGER NOT NULL,
    sha256 BLOB NOT NULL,
    data BLOB NOT NULL
);
CREATE INDEX online_visit_images_visit ON online_visit_images (visit_id, id);

-- An uploaded document a doctor accepted as an offline diagnosis (诊断证明 and the
-- like): it makes later visits about the same disease repeat visits.
CREATE TABLE offline_diagnosis_documents (
    id INTEGER PRIMARY KEY,
    resident_id INTEGER NOT NULL REFERENCES residents(id),
    icd10 TEXT NOT NULL,
    visit_id INTEGER NOT NULL REFERENCES online_visits(id),
    image_id INTEGER NOT NULL REFERENCES online_visit_images(id),
    institution_id INTEGER NOT NULL REFERENCES institutions(id),
    staff_id INTEGER NOT NULL REFERENCES staff(id),
    accepted_at_us INTEGER NOT NULL
);
CREATE INDEX offline_diagnosis_documents_resident ON offline_diagnosis_documents (resident_id, id);

-- A doctor's online clinic: opened after their real-name check, open until until_us.
CREATE TABLE online_clinic_sessions (
    id INTEGER PRIMARY KEY,
    staff_id INTEGER NOT NULL REFERENCES staff(id),
    institution_id INTEGER NOT NULL REFERENCES institutions(id),
    opened_at_us INTEGER NOT NULL,
    until_us INTEGER NOT NULL
);
CREATE INDEX online_clinic_sessions_staff ON online_clinic_sessions (staff_id, until_us);

-- The visit a prescription was written in.
ALTER TABLE prescriptions ADD COLUMN online_visit_id INTEGER REFERENCES online_visits(id);
