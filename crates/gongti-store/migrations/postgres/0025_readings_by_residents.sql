-- A resident uploads home readings from their own phone (患者自助): a reading is
-- uploaded either by a staff or client sign-in (users) or by the resident's own
-- account (patient_accounts), never both, never neither.
ALTER TABLE home_readings ALTER COLUMN uploaded_by_user_id DROP NOT NULL;
ALTER TABLE home_readings ADD COLUMN uploaded_by_account_id BIGINT REFERENCES patient_accounts(id);
ALTER TABLE home_readings ADD CONSTRAINT home_readings_one_uploader
    CHECK ((uploaded_by_user_id IS NULL) <> (uploaded_by_account_id IS NULL));
