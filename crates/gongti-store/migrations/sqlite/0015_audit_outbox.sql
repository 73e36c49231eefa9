-- The audit outbox (src/outbox.rs): a write stages its audit records here in its own
-- transaction; the audit writer moves them into the hash chain in audit.db and
-- deletes them. AUTOINCREMENT: an id is never reused, so the writer's mark (the last
-- id moved, kept in audit.db) never skips or repeats a record.
CREATE TABLE audit_outbox (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    at_us INTEGER NOT NULL,
    actor_user_id INTEGER,
    actor_username TEXT NOT NULL,
    role TEXT,
    institution_id INTEGER,
    action TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    resource_id TEXT,
    patient_id INTEGER,
    reason TEXT,
    outcome TEXT NOT NULL,
    detail TEXT,
    request_id TEXT
);
