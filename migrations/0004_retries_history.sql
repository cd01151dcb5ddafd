-- v1.1: ETags, history, idempotent retries, the pending cap; and a database that refuses an overbooked slot.

-- Bumped by every write: the ETag of a reservation, with no extra query.
ALTER TABLE reservations ADD COLUMN version integer NOT NULL DEFAULT 1;

-- The capacity a slot's counter was last checked against: the database itself refuses an overbooked slot, whatever
-- code path writes the counter.
ALTER TABLE slot_usage
  ADD COLUMN capacity integer NOT NULL DEFAULT 2147483647,
  ADD CONSTRAINT slot_usage_within_capacity CHECK (confirmed <= capacity);

-- Pending reservations per user, kept by the trigger below so no code path can forget it: a create locks the
-- user's row and reads the count from its latest version, so concurrent creates cannot pass the cap together.
ALTER TABLE users ADD COLUMN pending_count integer NOT NULL DEFAULT 0 CHECK (pending_count >= 0);
UPDATE users u SET pending_count = (SELECT count(*) FROM reservations r WHERE r.user_id = u.id AND r.status = 'pending');

CREATE FUNCTION count_pending_reservations() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP IN ('DELETE', 'UPDATE') AND OLD.status = 'pending' THEN
    UPDATE users SET pending_count = pending_count - 1 WHERE id = OLD.user_id;
  END IF;
  IF TG_OP IN ('INSERT', 'UPDATE') AND NEW.status = 'pending' THEN
    UPDATE users SET pending_count = pending_count + 1 WHERE id = NEW.user_id;
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER reservations_pending_count
  AFTER INSERT OR DELETE OR UPDATE OF status, user_id ON reservations
  FOR EACH ROW EXECUTE FUNCTION count_pending_reservations();

-- Every change of a reservation, written in the transaction that makes it. No foreign keys: the events of a deleted
-- reservation, or of a deleted user, stay readable.
CREATE TABLE reservation_events (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  reservation_id integer NOT NULL,
  owner_id integer NOT NULL,
  action text NOT NULL CHECK (action IN ('created', 'changed', 'confirmed', 'deleted', 'released')),
  at timestamptz NOT NULL,
  actor_id integer,
  request_id text,
  changes jsonb
);
CREATE INDEX reservation_events_history ON reservation_events (reservation_id, id);
CREATE INDEX reservation_events_newest ON reservation_events (at DESC, id DESC);

-- The stored outcome of a request sent with an Idempotency-Key, written in the transaction of its effect.
CREATE TABLE idempotency_keys (
  scope text NOT NULL,
  key text NOT NULL,
  fingerprint text NOT NULL,
  status integer NOT NULL,
  headers jsonb NOT NULL DEFAULT '{}',
  body jsonb,
  created_at timestamptz NOT NULL,
  expires_at timestamptz NOT NULL,
  PRIMARY KEY (scope, key)
);
CREATE INDEX idempotency_keys_expiry ON idempotency_keys (expires_at);

-- Locks a reservation, and aborts the transaction unless it is still at the version the change was planned on:
-- the statements pipelined behind it then never apply stale values.
CREATE FUNCTION lock_reservation_version(reservation_id integer, expected integer) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  found integer;
BEGIN
  SELECT version INTO found FROM reservations WHERE id = reservation_id FOR UPDATE;
  IF found IS DISTINCT FROM expected THEN
    RAISE EXCEPTION 'reservation % changed since it was read', reservation_id USING ERRCODE = 'serialization_failure';
  END IF;
END $$;
