-- Credentials as Jumio has them: a credential issued without a role
-- ('all') may call every customer API; 'api' (initiate only) and 'admin'
-- (administration only) rows keep their meaning. SQLite cannot change a
-- CHECK constraint in place, so the table is rebuilt with its rows.

CREATE TABLE credentials_new (
    id          TEXT    NOT NULL PRIMARY KEY,
    account     TEXT    NOT NULL REFERENCES accounts (id),
    token       TEXT    NOT NULL UNIQUE,
    secret_hash TEXT    NOT NULL,
    role        TEXT    NOT NULL CHECK (role IN ('all', 'api', 'admin')),
    created_at  INTEGER NOT NULL,
    revoked_at  INTEGER
);

INSERT INTO credentials_new (id, account, token, secret_hash, role, created_at, revoked_at)
    SELECT id, account, token, secret_hash, role, created_at, revoked_at FROM credentials;

DROP TABLE credentials;
ALTER TABLE credentials_new RENAME TO credentials;

CREATE INDEX credentials_by_account ON credentials (account, created_at);
