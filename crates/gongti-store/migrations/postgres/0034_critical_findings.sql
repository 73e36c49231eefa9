-- Critical findings from a reader's report (危急值, DOMAIN.md §8): a report may carry
-- one critical finding of its modality (data/exam/critical_findings.tsv), kept with the
-- report and each version; reporting it opens a critical value on the same closed loop
-- as a laboratory one, for the ordering institution's clinicians. A critical value now
-- comes from a laboratory result or from an order's report (one report per order), exactly
-- one of the two.
ALTER TABLE exam_reports ADD COLUMN critical_code TEXT;
ALTER TABLE exam_report_versions ADD COLUMN critical_code TEXT;

ALTER TABLE critical_values ALTER COLUMN lab_result_id DROP NOT NULL;
ALTER TABLE critical_values ADD COLUMN exam_order_id BIGINT REFERENCES exam_orders(id);
ALTER TABLE critical_values ADD CONSTRAINT critical_values_one_source
    CHECK ((lab_result_id IS NULL) <> (exam_order_id IS NULL));
CREATE UNIQUE INDEX critical_values_report ON critical_values(exam_order_id) WHERE status <> 'closed';
CREATE INDEX critical_values_resident ON critical_values(resident_id, id);
