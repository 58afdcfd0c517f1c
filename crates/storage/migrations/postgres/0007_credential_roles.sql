-- Credentials as Jumio has them: a credential issued without a role
-- ('all') may call every customer API; 'api' (initiate only) and 'admin'
-- (administration only) rows keep their meaning. Mirrors
-- migrations/sqlite/0007_credential_roles.sql, where SQLite has to rebuild
-- the table; PostgreSQL replaces the constraint in place.
ALTER TABLE credentials DROP CONSTRAINT credentials_role_check;
ALTER TABLE credentials ADD CONSTRAINT credentials_role_check
    CHECK (role IN ('all', 'api', 'admin'));
