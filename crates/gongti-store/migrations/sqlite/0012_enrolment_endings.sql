-- Ended enrolments (结案) per scope, programme, last day under management and day of
-- enrolment: with `enrolment_counts`, the denominators of any standard period — those
-- managed (enrolled by its end, not ended before its start) and those still enrolled on
-- its last day (missed visit, lost to follow-up).
CREATE TABLE enrolment_endings (
    scope TEXT NOT NULL,
    disease TEXT NOT NULL,
    ended_on TEXT NOT NULL,
    enrolled_on TEXT NOT NULL,
    ended INTEGER NOT NULL,
    PRIMARY KEY (scope, disease, ended_on, enrolled_on)
);

-- Why an enrolment ended, in the clinician's words (the reason code is end_reason).
ALTER TABLE chronic_enrolments ADD COLUMN end_note TEXT;
