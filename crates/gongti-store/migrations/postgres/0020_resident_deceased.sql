-- A recorded death (an enrolment ended for 'died') is the resident's, not only the
-- programme's: FHIR Patient.deceasedDateTime and every later read carry it.
ALTER TABLE residents ADD COLUMN deceased_on DATE;
UPDATE residents r SET deceased_on = d.day
FROM (SELECT resident_id, MIN(ended_on) AS day FROM chronic_enrolments
      WHERE end_reason = 'died' GROUP BY resident_id) d
WHERE d.resident_id = r.id;
