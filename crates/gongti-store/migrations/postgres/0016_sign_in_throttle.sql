-- Sign-in throttling per account name (gongti_core::throttle), for names that exist
-- and names that do not alike, so that no answer tells them apart. `key` is the
-- SHA-256 of the account kind and the name. users.failed_attempts / locked_until_us
-- and their patient_accounts twins are no longer read (dropped in a later release).
CREATE TABLE sign_in_throttle (
    key BYTEA PRIMARY KEY,
    failures BIGINT NOT NULL,
    locked_until_us BIGINT,
    failures_since_success BIGINT NOT NULL,
    last_failure_at_us BIGINT
);
