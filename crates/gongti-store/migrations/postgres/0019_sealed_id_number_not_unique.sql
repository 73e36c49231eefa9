-- A sealed ID number is random ciphertext: its UNIQUE index kept nothing unique (the
-- keyed hash does, 0018) and cost every registration a random insert of a long key
-- (BENCHMARKS.md).
ALTER TABLE residents DROP CONSTRAINT residents_id_number_key;
