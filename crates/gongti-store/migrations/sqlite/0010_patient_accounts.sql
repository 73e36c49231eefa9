-- Residents' own sign-ins (患者账号): to see and book public appointment slots for
-- themselves and cancel their bookings. Opened by staff who care for the resident.

CREATE TABLE patient_accounts (
    id INTEGER PRIMARY KEY,
    resident_id INTEGER NOT NULL UNIQUE REFERENCES residents(id),
    username TEXT NOT NULL UNIQUE,
    password_hash TEXT NOT NULL,
    failed_attempts INTEGER NOT NULL DEFAULT 0,
    locked_until_us INTEGER,
    created_by_staff_id INTEGER NOT NULL REFERENCES staff(id),
    created_at_us INTEGER NOT NULL
);

CREATE TABLE patient_tokens (
    token_hash BLOB PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES patient_accounts(id),
    csrf TEXT,
    expires_at_us INTEGER NOT NULL,
    created_at_us INTEGER NOT NULL
);
CREATE INDEX patient_tokens_expiry ON patient_tokens(expires_at_us);

-- A booking is made by a staff member or by the resident's own account.
ALTER TABLE bookings ADD COLUMN booked_by_account_id INTEGER REFERENCES patient_accounts(id);
