-- Console users' optional second factor (TOTP, RFC 6238): the secret,
-- sealed with the master key like the images, and the last step a code was
-- accepted for (a code is never accepted twice). Mirrors
-- migrations/sqlite/0013_console_totp.sql.
ALTER TABLE console_users ADD COLUMN totp_secret BYTEA;
ALTER TABLE console_users ADD COLUMN totp_last_step BIGINT;
