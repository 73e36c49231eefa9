-- Versions of the records FHIR serves (meta.versionId, vread, _history; store::versions).
-- Each versioned table counts its row's versions (`version`, from 1) and when the
-- current one began (`version_at_us`; NULL: since the row was created). An update that
-- changes a row keeps the superseded row in `record_versions` (its own columns, as
-- JSON) and counts a new version; a SQLite trigger per table does it (written from the
-- table's columns whenever the migrations change, store::versions), a PostgreSQL one
-- for all (0022 postgres). Inserts cost nothing.
CREATE TABLE record_versions (
    table_name TEXT NOT NULL,
    row_id INTEGER NOT NULL,
    version INTEGER NOT NULL,
    from_us INTEGER NOT NULL,
    to_us INTEGER NOT NULL,
    snapshot TEXT NOT NULL,
    PRIMARY KEY (table_name, row_id, version)
);
-- The two tables with no creation time take their owner's.
ALTER TABLE departments ADD COLUMN created_at_us INTEGER NOT NULL DEFAULT 0;
UPDATE departments SET created_at_us = COALESCE(
    (SELECT created_at_us FROM institutions i WHERE i.id = departments.institution_id), 0);
ALTER TABLE slots ADD COLUMN created_at_us INTEGER NOT NULL DEFAULT 0;
UPDATE slots SET created_at_us = COALESCE(
    (SELECT created_at_us FROM schedules s WHERE s.id = slots.schedule_id), 0);
ALTER TABLE residents ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE residents ADD COLUMN version_at_us INTEGER;
ALTER TABLE institutions ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE institutions ADD COLUMN version_at_us INTEGER;
ALTER TABLE departments ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE departments ADD COLUMN version_at_us INTEGER;
ALTER TABLE staff ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE staff ADD COLUMN version_at_us INTEGER;
ALTER TABLE chronic_enrolments ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE chronic_enrolments ADD COLUMN version_at_us INTEGER;
ALTER TABLE contracts ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE contracts ADD COLUMN version_at_us INTEGER;
ALTER TABLE chronic_tasks ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE chronic_tasks ADD COLUMN version_at_us INTEGER;
ALTER TABLE referrals ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE referrals ADD COLUMN version_at_us INTEGER;
ALTER TABLE alerts ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE alerts ADD COLUMN version_at_us INTEGER;
ALTER TABLE schedules ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE schedules ADD COLUMN version_at_us INTEGER;
ALTER TABLE slots ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE slots ADD COLUMN version_at_us INTEGER;
ALTER TABLE bookings ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE bookings ADD COLUMN version_at_us INTEGER;
ALTER TABLE consultations ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE consultations ADD COLUMN version_at_us INTEGER;
