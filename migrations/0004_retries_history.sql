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

-- Per statement, from its transition tables: a bulk insert costs one UPDATE per user, not one per row.
CREATE FUNCTION count_pending_reservations() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    UPDATE users u SET pending_count = u.pending_count + d.added
    FROM (SELECT user_id, count(*)::int AS added FROM new_rows WHERE status = 'pending' GROUP BY user_id) d
    WHERE u.id = d.user_id;
  ELSIF TG_OP = 'DELETE' THEN
    UPDATE users u SET pending_count = u.pending_count - d.removed
    FROM (SELECT user_id, count(*)::int AS removed FROM old_rows WHERE status = 'pending' GROUP BY user_id) d
    WHERE u.id = d.user_id;
  ELSE
    UPDATE users u SET pending_count = u.pending_count + d.delta
    FROM (
      SELECT user_id, sum(delta)::int AS delta FROM (
        SELECT user_id, 1 AS delta FROM new_rows WHERE status = 'pending'
        UNION ALL
        SELECT user_id, -1 FROM old_rows WHERE status = 'pending'
      ) changes
      GROUP BY user_id
      HAVING sum(delta) <> 0
    ) d
    WHERE u.id = d.user_id;
  END IF;
  RETURN NULL;
END $$;

CREATE TRIGGER reservations_pending_insert AFTER INSERT ON reservations
  REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION count_pending_reservations();
CREATE TRIGGER reservations_pending_delete AFTER DELETE ON reservations
  REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION count_pending_reservations();
CREATE TRIGGER reservations_pending_update AFTER UPDATE ON reservations
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION count_pending_reservations();

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
