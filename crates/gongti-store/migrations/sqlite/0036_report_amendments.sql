-- A signed report's amendment drafted before it is signed (DOMAIN.md §8: where the
-- centre's rule wants two signers, one reader writes the amendment and another signs
-- it as written). The draft waits beside the signed report, which stays what the
-- ordering doctor reads until the amendment is signed; each saved draft is also kept
-- in exam_report_versions (status preliminary, seen only by the centre).
ALTER TABLE exam_reports ADD COLUMN pending_findings TEXT;
ALTER TABLE exam_reports ADD COLUMN pending_impression TEXT;
ALTER TABLE exam_reports ADD COLUMN pending_critical_code TEXT;
ALTER TABLE exam_reports ADD COLUMN pending_author_staff_id INTEGER REFERENCES staff(id);
ALTER TABLE exam_reports ADD COLUMN pending_at_us INTEGER;
CREATE INDEX exam_reports_pending ON exam_reports(order_id) WHERE pending_at_us IS NOT NULL;
