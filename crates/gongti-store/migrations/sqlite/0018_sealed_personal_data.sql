-- ID and phone numbers are stored sealed (store::crypto): `id_number` and `phone`
-- hold ciphertext, and an ID number is found (and kept unique) by its keyed hash.
-- Rows from before are sealed by the first start with the keys (migrate.rs).
ALTER TABLE residents ADD COLUMN id_number_hash BLOB;
CREATE UNIQUE INDEX residents_id_number_hash ON residents(id_number_hash);
