-- A resident's enrolments, whatever their status (the record, home readings, the
-- worklists' risk): the partial index on active ones cannot serve these look-ups, and
-- without this one each was a scan of every enrolment in the region.
CREATE INDEX chronic_enrolments_resident ON chronic_enrolments(resident_id, id);
