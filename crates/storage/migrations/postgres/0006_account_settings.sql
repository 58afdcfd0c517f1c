-- Two account settings (issue #10). Mirrors
-- migrations/sqlite/0006_account_settings.sql.
--
-- Whether user references that look like e-mail addresses or phone numbers
-- are refused: off for every account, existing ones included, since keeping
-- PII out of them is the customer's duty (as in Jumio's guides).
ALTER TABLE accounts ADD COLUMN refuse_pii_user_reference BIGINT NOT NULL DEFAULT 0
    CHECK (refuse_pii_user_reference IN (0, 1));

-- The private hosts and networks the account's callbacks may reach, in the
-- canonical comma-separated form (`10.1.0.0/16,receiver.corp.internal`, at
-- most 16 entries). NULL lists none: every private address stays refused.
ALTER TABLE accounts ADD COLUMN callback_private_targets TEXT
    CHECK (callback_private_targets IS NULL OR length(callback_private_targets) BETWEEN 1 AND 4096);
