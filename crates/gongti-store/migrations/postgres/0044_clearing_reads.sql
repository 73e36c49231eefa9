-- What the year-end clearing reads (issue 17 point 5), a chunk of persons at a time:
-- their fee lines of the bureau's file and their contracts, each from its index alone
-- instead of a look-up in the table for every row (BENCHMARKS.md).
DROP INDEX bureau_settlements_resident;
CREATE INDEX bureau_settlements_resident
    ON bureau_settlements(resident_id, settled_on) INCLUDE (fund_fen, total_fen, institution_id);
CREATE INDEX contracts_span
    ON contracts(resident_id, start_on, id) INCLUDE (end_on, institution_id, ended_on, status);
