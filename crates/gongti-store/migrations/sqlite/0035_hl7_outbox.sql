-- Messages to clinic systems (DOMAIN.md §8: "the signed report goes back to the
-- ordering doctor's worklist and the patient's record, and, for a clinic system that
-- expects it, as an HL7 ORU"). A row per signed report version, made in the
-- signature's transaction for the ordering institution; the message itself is composed
-- from the kept version when it is sent, so no patient data is stored twice. Sent to
-- the institutions whose systems Gongti is told of (--hl7-send), retried after a
-- failed connection, ended by the system's acknowledgement (AA sent, AE / AR refused).
CREATE TABLE hl7_outbox (
    id INTEGER PRIMARY KEY,
    institution_id INTEGER NOT NULL REFERENCES institutions(id),
    order_id INTEGER NOT NULL REFERENCES exam_orders(id),
    report_version INTEGER NOT NULL,
    message_type TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'refused')),
    created_at_us INTEGER NOT NULL,
    attempts INTEGER NOT NULL DEFAULT 0,
    next_at_us INTEGER NOT NULL,
    sent_at_us INTEGER,
    ack_code TEXT,
    problem TEXT,
    UNIQUE (order_id, report_version, message_type)
);
CREATE INDEX hl7_outbox_pending ON hl7_outbox(institution_id, next_at_us) WHERE status = 'pending';
