-- Idempotent requests (web::idempotency): a key a client sent with a POST, kept with
-- a fingerprint of the request and the answer given, for 24 hours. `scope` is who
-- sent it (a user or a resident's account), so keys of different people never meet.
-- An answer with personal data is stored encrypted (`answer`, see store::crypto).
CREATE TABLE idempotency_keys (
    scope TEXT NOT NULL,
    key TEXT NOT NULL,
    fingerprint BYTEA NOT NULL,
    status BIGINT,
    answer BYTEA,
    created_at_us BIGINT NOT NULL,
    PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_keys_created ON idempotency_keys(created_at_us);
