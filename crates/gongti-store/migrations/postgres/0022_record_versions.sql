-- Versions of the records FHIR serves (meta.versionId, vread, _history; store::versions).
-- Each versioned table counts its row's versions (`version`, from 1) and when the
-- current one began (`version_at_us`; NULL: since the row was created). An update that
-- changes a row keeps the superseded row in `record_versions` (the whole row, as JSON)
-- and counts a new version, in one trigger function for every table (its arguments:
-- the column holding the row's creation time, then the bookkeeping columns whose change
-- alone makes no new version — store::versions::Kept::bookkeeping). Inserts cost nothing.
CREATE TABLE record_versions (
    table_name TEXT NOT NULL,
    row_id BIGINT NOT NULL,
    version BIGINT NOT NULL,
    from_us BIGINT NOT NULL,
    to_us BIGINT NOT NULL,
    snapshot JSONB NOT NULL,
    PRIMARY KEY (table_name, row_id, version)
);
-- The two tables with no creation time take their owner's.
ALTER TABLE departments ADD COLUMN created_at_us BIGINT NOT NULL DEFAULT 0;
UPDATE departments SET created_at_us = COALESCE(
    (SELECT created_at_us FROM institutions i WHERE i.id = departments.institution_id), 0);
ALTER TABLE slots ADD COLUMN created_at_us BIGINT NOT NULL DEFAULT 0;
UPDATE slots SET created_at_us = COALESCE(
    (SELECT created_at_us FROM schedules s WHERE s.id = slots.schedule_id), 0);

CREATE FUNCTION gongti_keep_version() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    superseded JSONB := to_jsonb(OLD);
    since BIGINT;
    now_us BIGINT;
BEGIN
    -- The columns after the first argument are bookkeeping no version is about.
    IF NEW.version <> OLD.version
        OR (to_jsonb(NEW) - TG_ARGV[1:TG_NARGS - 1]) = (superseded - TG_ARGV[1:TG_NARGS - 1]) THEN
        RETURN NEW;
    END IF;
    since := COALESCE(OLD.version_at_us, (superseded ->> TG_ARGV[0])::BIGINT);
    -- A version begins after the one it follows, whatever the clock says.
    now_us := GREATEST((extract(epoch FROM clock_timestamp()) * 1000000)::BIGINT, since + 1);
    INSERT INTO record_versions (table_name, row_id, version, from_us, to_us, snapshot)
    VALUES (TG_TABLE_NAME, OLD.id, OLD.version, since, now_us, superseded);
    NEW.version := OLD.version + 1;
    NEW.version_at_us := now_us;
    RETURN NEW;
END
$$;
ALTER TABLE residents ADD COLUMN version BIGINT NOT NULL DEFAULT 1, ADD COLUMN version_at_us BIGINT;
CREATE TRIGGER residents_version BEFORE UPDATE ON residents FOR EACH ROW EXECUTE FUNCTION gongti_keep_version(
    'created_at_us', 'id_number', 'phone', 'id_number_hash');
ALTER TABLE institutions ADD COLUMN version BIGINT NOT NULL DEFAULT 1, ADD COLUMN version_at_us BIGINT;
CREATE TRIGGER institutions_version BEFORE UPDATE ON institutions FOR EACH ROW EXECUTE FUNCTION gongti_keep_version('created_at_us');
ALTER TABLE departments ADD COLUMN version BIGINT NOT NULL DEFAULT 1, ADD COLUMN version_at_us BIGINT;
CREATE TRIGGER departments_version BEFORE UPDATE ON departments FOR EACH ROW EXECUTE FUNCTION gongti_keep_version('created_at_us');
ALTER TABLE staff ADD COLUMN version BIGINT NOT NULL DEFAULT 1, ADD COLUMN version_at_us BIGINT;
CREATE TRIGGER staff_version BEFORE UPDATE ON staff FOR EACH ROW EXECUTE FUNCTION gongti_keep_version('created_at_us');
ALTER TABLE chronic_enrolments ADD COLUMN version BIGINT NOT NULL DEFAULT 1, ADD COLUMN version_at_us BIGINT;
CREATE TRIGGER chronic_enrolments_version BEFORE UPDATE ON chronic_enrolments FOR EACH ROW EXECUTE FUNCTION gongti_keep_version(
    'created_at_us', 'changed_at_us', 'last_followup_on', 'last_face_to_face_on', 'last_classification',
    'next_due_on', 'highest_sbp_mmhg', 'highest_dbp_mmhg', 'bmi_centi', 'waist_cm');
ALTER TABLE contracts ADD COLUMN version BIGINT NOT NULL DEFAULT 1, ADD COLUMN version_at_us BIGINT;
CREATE TRIGGER contracts_version BEFORE UPDATE ON contracts FOR EACH ROW EXECUTE FUNCTION gongti_keep_version('signed_at_us');
ALTER TABLE chronic_tasks ADD COLUMN version BIGINT NOT NULL DEFAULT 1, ADD COLUMN version_at_us BIGINT;
CREATE TRIGGER chronic_tasks_version BEFORE UPDATE ON chronic_tasks FOR EACH ROW EXECUTE FUNCTION gongti_keep_version('created_at_us');
ALTER TABLE referrals ADD COLUMN version BIGINT NOT NULL DEFAULT 1, ADD COLUMN version_at_us BIGINT;
CREATE TRIGGER referrals_version BEFORE UPDATE ON referrals FOR EACH ROW EXECUTE FUNCTION gongti_keep_version('created_at_us');
ALTER TABLE alerts ADD COLUMN version BIGINT NOT NULL DEFAULT 1, ADD COLUMN version_at_us BIGINT;
CREATE TRIGGER alerts_version BEFORE UPDATE ON alerts FOR EACH ROW EXECUTE FUNCTION gongti_keep_version('raised_at_us');
ALTER TABLE schedules ADD COLUMN version BIGINT NOT NULL DEFAULT 1, ADD COLUMN version_at_us BIGINT;
CREATE TRIGGER schedules_version BEFORE UPDATE ON schedules FOR EACH ROW EXECUTE FUNCTION gongti_keep_version('created_at_us');
ALTER TABLE slots ADD COLUMN version BIGINT NOT NULL DEFAULT 1, ADD COLUMN version_at_us BIGINT;
CREATE TRIGGER slots_version BEFORE UPDATE ON slots FOR EACH ROW EXECUTE FUNCTION gongti_keep_version('created_at_us');
ALTER TABLE bookings ADD COLUMN version BIGINT NOT NULL DEFAULT 1, ADD COLUMN version_at_us BIGINT;
CREATE TRIGGER bookings_version BEFORE UPDATE ON bookings FOR EACH ROW EXECUTE FUNCTION gongti_keep_version('created_at_us');
ALTER TABLE consultations ADD COLUMN version BIGINT NOT NULL DEFAULT 1, ADD COLUMN version_at_us BIGINT;
CREATE TRIGGER consultations_version BEFORE UPDATE ON consultations FOR EACH ROW EXECUTE FUNCTION gongti_keep_version('created_at_us');
