-- Remote consultation (远程会诊, DOMAIN.md §3): the request with its files, the
-- specialist's opinion, and the consulted hospital's access while it is open.

CREATE TABLE consultations (
    id INTEGER PRIMARY KEY,
    resident_id INTEGER NOT NULL REFERENCES residents(id),
    status TEXT NOT NULL,
    from_institution_id INTEGER NOT NULL REFERENCES institutions(id),
    from_staff_id INTEGER NOT NULL REFERENCES staff(id),
    to_institution_id INTEGER NOT NULL REFERENCES institutions(id),
    to_department_id INTEGER NOT NULL REFERENCES departments(id),
    to_staff_id INTEGER REFERENCES staff(id),
    question TEXT NOT NULL,
    video_at_us INTEGER,
    opinion TEXT,
    answered_by_staff_id INTEGER REFERENCES staff(id),
    answered_at_us INTEGER,
    care_relationship_id INTEGER NOT NULL REFERENCES care_relationships(id),
    created_at_us INTEGER NOT NULL,
    changed_at_us INTEGER NOT NULL
);
CREATE INDEX consultations_inbox ON consultations(to_institution_id, status, id);
CREATE INDEX consultations_sent ON consultations(from_institution_id, status, id);
CREATE INDEX consultations_resident ON consultations(resident_id, id);

CREATE TABLE consultation_files (
    id INTEGER PRIMARY KEY,
    consultation_id INTEGER NOT NULL REFERENCES consultations(id),
    filename TEXT NOT NULL,
    content_type TEXT NOT NULL,
    size_bytes INTEGER NOT NULL,
    sha256 BLOB NOT NULL,
    data BLOB NOT NULL,
    created_at_us INTEGER NOT NULL
);
CREATE INDEX consultation_files_consultation ON consultation_files(consultation_id, id);
