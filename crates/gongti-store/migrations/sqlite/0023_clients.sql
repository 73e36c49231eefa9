-- Client systems (a laboratory system, a data warehouse) are accounts like staff's —
-- a staff row for the role and institution they act in, a users row — with a secret
-- instead of a password and SMART-style scopes; a token keeps the scopes it was
-- granted. Secrets are 256-bit random and kept as SHA-256 hashes, like tokens.
ALTER TABLE users ADD COLUMN client_scopes TEXT;
ALTER TABLE users ADD COLUMN client_secret_hash BLOB;
ALTER TABLE tokens ADD COLUMN scopes TEXT;
