-- Home readings (家庭自测) and the alerts urgent ones raise on the care team's worklist.

CREATE TABLE home_readings (
    id INTEGER PRIMARY KEY,
    resident_id INTEGER NOT NULL REFERENCES residents(id),
    client_reading_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    taken_at_us INTEGER NOT NULL,
    sbp_mmhg INTEGER,
    dbp_mmhg INTEGER,
    pulse_bpm INTEGER,
    glucose_centi_mmol INTEGER,
    glucose_context TEXT,
    device TEXT,
    uploaded_by_user_id INTEGER NOT NULL REFERENCES users(id),
    received_at_us INTEGER NOT NULL
);
-- Idempotent on the client's id: uploading a reading twice stores it once.
CREATE UNIQUE INDEX home_readings_client ON home_readings(resident_id, client_reading_id);
CREATE INDEX home_readings_taken ON home_readings(resident_id, taken_at_us);

CREATE TABLE alerts (
    id INTEGER PRIMARY KEY,
    resident_id INTEGER NOT NULL REFERENCES residents(id),
    institution_id INTEGER NOT NULL REFERENCES institutions(id),
    team_id INTEGER REFERENCES teams(id),
    reading_id INTEGER REFERENCES home_readings(id),
    code TEXT NOT NULL,
    status TEXT NOT NULL,
    raised_at_us INTEGER NOT NULL,
    acknowledged_by_staff_id INTEGER REFERENCES staff(id),
    acknowledged_at_us INTEGER
);
CREATE INDEX alerts_open ON alerts(institution_id, id) WHERE status = 'open';
CREATE INDEX alerts_resident ON alerts(resident_id, id);
