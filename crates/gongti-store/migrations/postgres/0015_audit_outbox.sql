-- The audit outbox (src/outbox.rs): a write stages its audit records here in its own
-- transaction; the audit writer moves them into audit_log and deletes them in one
-- transaction.
CREATE TABLE audit_outbox (
    id BIGSERIAL PRIMARY KEY,
    at_us BIGINT NOT NULL,
    actor_user_id BIGINT,
    actor_username TEXT NOT NULL,
    role TEXT,
    institution_id BIGINT,
    action TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    resource_id TEXT,
    patient_id BIGINT,
    reason TEXT,
    outcome TEXT NOT NULL,
    detail TEXT,
    request_id TEXT
);
