-- Who a session acts as, now that the root may have sessions too: 'root', or NULL
-- for a user's or role's (told apart by principal_user / principal_role).
ALTER TABLE sessions ADD COLUMN principal_kind TEXT;
