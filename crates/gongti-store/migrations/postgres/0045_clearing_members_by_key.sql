-- SQLite keeps the persons of a year's clearing in a table without rowid from this
-- version on (one tree instead of a table and its key's index); PostgreSQL's table
-- and key are unchanged. The table's comment says what a row is.
COMMENT ON TABLE clearing_members IS
    'Each person counted in an institution''s clearing of a year: days under each scheme there, their part of B before the division by the year''s days (millionths of a fen) and the fund-paid cost counted there.';
