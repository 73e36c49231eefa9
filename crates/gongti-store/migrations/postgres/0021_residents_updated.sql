-- Incremental sync (FHIR Patient?_lastUpdated=gt…) reads residents changed since a time.
CREATE INDEX residents_updated ON residents(updated_at_us, id);
