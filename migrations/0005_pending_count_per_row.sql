-- A status change is one row at a time (a confirmation), and most updates (a patch of the window) change no status:
-- a row trigger that fires only when the status or the owner changes costs a confirmation less than the statement
-- trigger with transition tables, and costs a patch nothing. Inserts and deletes keep their statement triggers.
DROP TRIGGER reservations_pending_update ON reservations;

CREATE FUNCTION count_pending_status_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF OLD.status = 'pending' THEN
    UPDATE users SET pending_count = pending_count - 1 WHERE id = OLD.user_id;
  END IF;
  IF NEW.status = 'pending' THEN
    UPDATE users SET pending_count = pending_count + 1 WHERE id = NEW.user_id;
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER reservations_pending_status AFTER UPDATE OF status, user_id ON reservations
  FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.user_id IS DISTINCT FROM NEW.user_id)
  EXECUTE FUNCTION count_pending_status_change();
