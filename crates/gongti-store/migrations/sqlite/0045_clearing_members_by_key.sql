-- The persons of a year's clearing are kept in the order of their key alone (a table
-- without rowid): at a city's scale a freeze saves 1.4 M of them, and a freeze again
-- first removes the year's before; with a rowid each row went into two trees (the
-- table and its key's index) and out of both again (BENCHMARKS.md). Same columns,
-- same keys.
CREATE TABLE clearing_members_next (
    year INTEGER NOT NULL,
    institution_id INTEGER NOT NULL,
    resident_id INTEGER NOT NULL REFERENCES residents(id),
    age INTEGER NOT NULL,
    condition TEXT NOT NULL,
    days_contracted INTEGER NOT NULL,
    days_mt_hypertension INTEGER NOT NULL,
    days_mt_diabetes INTEGER NOT NULL,
    share_micro_fen INTEGER NOT NULL,
    cost_fen INTEGER NOT NULL,
    PRIMARY KEY (year, institution_id, resident_id),
    FOREIGN KEY (year, institution_id) REFERENCES capitation_clearings(year, institution_id)
) WITHOUT ROWID;
INSERT INTO clearing_members_next (year, institution_id, resident_id, age, condition,
    days_contracted, days_mt_hypertension, days_mt_diabetes, share_micro_fen, cost_fen)
SELECT year, institution_id, resident_id, age, condition, days_contracted,
    days_mt_hypertension, days_mt_diabetes, share_micro_fen, cost_fen
FROM clearing_members;
DROP TABLE clearing_members;
ALTER TABLE clearing_members_next RENAME TO clearing_members;
