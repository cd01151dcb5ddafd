-- Every session (a login and the tokens rotated from it) that began at or before this instant has ended: a
-- password change or "log out everywhere" sets it to now. NULL: none was ever ended this way. The guard reads it
-- with the user row it already reads.
ALTER TABLE users ADD COLUMN sessions_valid_after timestamptz;
