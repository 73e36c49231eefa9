-- SQLite keeps an enrolment's facts of a period in a table without rowid from this
-- version on (one tree instead of a table and its key's index); PostgreSQL's table
-- and key are unchanged. The table's comment says what a row is.
COMMENT ON TABLE indicator_facts IS
    'The facts the chronic-care indicators read of one enrolment in one calendar month, quarter or year (its face-to-face visits, latest BP, FPG and HbA1c and whether each was controlled, seen and contacted), kept as its records are written.';
