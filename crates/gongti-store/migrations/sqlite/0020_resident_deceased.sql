-- A recorded death (an enrolment ended for 'died') is the resident's, not only the
-- programme's: FHIR Patient.deceasedDateTime and every later read carry it.
ALTER TABLE residents ADD COLUMN deceased_on TEXT;
UPDATE residents SET deceased_on = (
    SELECT MIN(e.ended_on) FROM chronic_enrolments e
    WHERE e.resident_id = residents.id AND e.end_reason = 'died'
) WHERE EXISTS (
    SELECT 1 FROM chronic_enrolments e WHERE e.resident_id = residents.id AND e.end_reason = 'died'
);
