-- A resident uploads home readings from their own phone (患者自助): a reading is
-- uploaded either by a staff or client sign-in (users) or by the resident's own
-- account (patient_accounts), never both, never neither. SQLite cannot drop a NOT
-- NULL, so the table is rebuilt (the 12 steps of
-- https://sqlite.org/lang_altertable.html: migrations run with foreign keys off and
-- are checked with foreign_key_check before they commit).
CREATE TABLE home_readings_rebuilt (
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
    uploaded_by_user_id INTEGER REFERENCES users(id),
    received_at_us INTEGER NOT NULL,
    uploaded_by_account_id INTEGER REFERENCES patient_accounts(id),
    CHECK ((uploaded_by_user_id IS NULL) <> (uploaded_by_account_id IS NULL))
);
INSERT INTO home_readings_rebuilt (id, resident_id, client_reading_id, kind, taken_at_us,
    sbp_mmhg, dbp_mmhg, pulse_bpm, glucose_centi_mmol, glucose_context, device,
    uploaded_by_user_id, received_at_us)
SELECT id, resident_id, client_reading_id, kind, taken_at_us, sbp_mmhg, dbp_mmhg,
    pulse_bpm, glucose_centi_mmol, glucose_context, device, uploaded_by_user_id,
    received_at_us
FROM home_readings;
DROP TABLE home_readings;
ALTER TABLE home_readings_rebuilt RENAME TO home_readings;
CREATE UNIQUE INDEX home_readings_client ON home_readings(resident_id, client_reading_id);
CREATE INDEX home_readings_taken ON home_readings(resident_id, taken_at_us);
