-- A sealed ID number is random ciphertext: its UNIQUE index kept nothing unique (the
-- keyed hash does, 0018) and cost every registration a random insert of a long key
-- (BENCHMARKS.md). SQLite cannot drop a column's constraint, so the table is rebuilt
-- (the 12 steps of https://sqlite.org/lang_altertable.html: migrations run with
-- foreign keys off and are checked with foreign_key_check before they commit).
CREATE TABLE residents_rebuilt (
    id INTEGER PRIMARY KEY,
    id_number TEXT NOT NULL,
    name TEXT NOT NULL,
    sex TEXT NOT NULL,
    birth_date TEXT NOT NULL,
    phone TEXT,
    address TEXT,
    household TEXT,
    home_institution_id INTEGER NOT NULL REFERENCES institutions(id),
    merged_into_id INTEGER REFERENCES residents(id),
    created_at_us INTEGER NOT NULL,
    updated_at_us INTEGER NOT NULL,
    id_number_hash BLOB
);
INSERT INTO residents_rebuilt (id, id_number, name, sex, birth_date, phone, address,
    household, home_institution_id, merged_into_id, created_at_us, updated_at_us,
    id_number_hash)
SELECT id, id_number, name, sex, birth_date, phone, address, household,
    home_institution_id, merged_into_id, created_at_us, updated_at_us, id_number_hash
FROM residents;
DROP TABLE residents;
ALTER TABLE residents_rebuilt RENAME TO residents;
CREATE INDEX residents_name ON residents(name, id);
CREATE INDEX residents_home ON residents(home_institution_id, id);
CREATE INDEX residents_birth ON residents(birth_date);
CREATE INDEX residents_household ON residents(household);
CREATE UNIQUE INDEX residents_id_number_hash ON residents(id_number_hash);
