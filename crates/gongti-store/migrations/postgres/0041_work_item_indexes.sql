-- What an institution's incentive month reads (issue 17 point 7): each kind of work by
-- where and when it was done, so that a month's count is an index range, not a scan.
CREATE INDEX followups_work ON followups(institution_id, visit_on, staff_id);
CREATE INDEX contracts_signed ON contracts(institution_id, signed_at_us);
CREATE INDEX referrals_work ON referrals(from_institution_id, created_at_us);
CREATE INDEX online_visits_ended ON online_visits(institution_id, ended_at_us);
CREATE INDEX prescription_steps_work ON prescription_steps(staff_id, at_us);
CREATE INDEX exam_reports_signed ON exam_reports(signer_staff_id, signed_at_us);
