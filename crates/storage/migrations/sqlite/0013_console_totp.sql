-- Console users' optional second factor (TOTP, RFC 6238): the secret,
-- sealed with the master key like the images, and the last step a code was
-- accepted for (a code is never accepted twice).
ALTER TABLE console_users ADD COLUMN totp_secret BLOB;
ALTER TABLE console_users ADD COLUMN totp_last_step INTEGER;
