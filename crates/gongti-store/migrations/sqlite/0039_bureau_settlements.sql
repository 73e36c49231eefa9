-- The bureau's settlements of care outside Gongti (DOMAIN.md §6, issue 17 point 3),
-- brought in from its file (the national platform's 2207 fields): each settlement
-- once by its 结算ID, the person matched by 人员编号 (insured_persons.psn_no), the
-- institution where the care happened as the file names it — and Gongti's own
-- institution when its code is one — with the total and the fund's share in fen. A
-- file is brought in whole or not at all, as one batch with one audit record naming
-- its rows. With the cloud pharmacy's settlements and the cloud centres' exams these
-- are capitation's costs.
CREATE TABLE bureau_settlements (
    id INTEGER PRIMARY KEY,
    setl_id TEXT NOT NULL UNIQUE,
    resident_id INTEGER NOT NULL REFERENCES residents(id),
    psn_no TEXT NOT NULL,
    settled_on TEXT NOT NULL,
    total_fen INTEGER NOT NULL CHECK (total_fen >= 0),
    fund_fen INTEGER NOT NULL CHECK (fund_fen >= 0 AND fund_fen <= total_fen),
    fixmedins_code TEXT NOT NULL,
    fixmedins_name TEXT NOT NULL,
    institution_id INTEGER REFERENCES institutions(id),
    batch TEXT NOT NULL,
    imported_by_staff_id INTEGER NOT NULL REFERENCES staff(id),
    imported_at_us INTEGER NOT NULL
);
CREATE INDEX bureau_settlements_resident ON bureau_settlements(resident_id, settled_on);
CREATE INDEX bureau_settlements_day ON bureau_settlements(settled_on, id);
