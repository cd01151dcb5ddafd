-- The counters every capacity rule reads follow from the reservations table, whoever writes it (the service, a task,
-- psql): the confirmed headcount of every slot (slot_usage.confirmed) and the pending reservations of every user
-- (users.pending_count). Two triggers keep them:
--   reservations_note_counters (at each change) notes, for the transaction, which slots and users its changes touch;
--   reservations_keep_counters (deferred to COMMIT) applies each change, slots in slot order then users. When the
--   transaction made several changes, its first firing locks everything they touch first, slots in slot order then
--   users in id order: one global order whatever the order of the changes, so no two transactions deadlock. A claim that does not fit fails the COMMIT, and with it the transaction, with a
--   check_violation of slot_usage_within_capacity whose DETAIL names the fullest slot that refused, as JSON.
-- Why at COMMIT: on a hot window every confirmation waits for the one before it to release the window's counter rows;
-- changed by a statement they would stay locked across the round trip to the COMMIT, changed at COMMIT they are held
-- for as long as the commit takes.

-- The limits: capacity_settings, which the service fills from its configuration at start-up; else the defaults.
-- A set-returning SQL function, which PostgreSQL inlines into the query that reads it from FROM.
CREATE OR REPLACE FUNCTION capacity_limits() RETURNS TABLE (capacity integer, slot_minutes integer)
LANGUAGE sql STABLE AS $$
  SELECT coalesce(s.capacity, 50000), coalesce(s.slot_minutes, 60) FROM (SELECT) one LEFT JOIN capacity_settings s ON true
$$;

-- The service's configuration, stored at start-up. The slots cannot be cut anew under confirmed examinees: their
-- counters were kept in the old slots.
CREATE OR REPLACE FUNCTION store_capacity_limits(new_capacity integer, new_slot_minutes integer) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  stored integer := (SELECT slot_minutes FROM capacity_settings);
BEGIN
  IF stored <> new_slot_minutes AND EXISTS (SELECT FROM slot_usage WHERE confirmed > 0) THEN
    RAISE EXCEPTION 'SLOT_MINUTES is %, but this database counts its confirmed examinees in slots of % minutes',
      new_slot_minutes, stored
      USING ERRCODE = 'invalid_parameter_value', HINT = format('set SLOT_MINUTES=%s', stored);
  END IF;
  INSERT INTO capacity_settings (capacity, slot_minutes) VALUES (new_capacity, new_slot_minutes)
  ON CONFLICT (only_row) DO UPDATE SET capacity = excluded.capacity, slot_minutes = excluded.slot_minutes
  WHERE (capacity_settings.capacity, capacity_settings.slot_minutes) IS DISTINCT FROM (excluded.capacity, excluded.slot_minutes);
END $$;

-- Whether a change (NULL before an insert, NULL after a delete) changes a counter: the headcount a confirmed
-- reservation holds in the slots of its window, or the place a pending one takes in its owner's count.
CREATE OR REPLACE FUNCTION changes_counters(was reservations, now reservations) RETURNS boolean
LANGUAGE sql IMMUTABLE AS $$
  SELECT coalesce(
    (was.status = 'confirmed' OR now.status = 'confirmed')
      AND (was.status, was.start_at, was.end_at, was.headcount)
        IS DISTINCT FROM (now.status, now.start_at, now.end_at, now.headcount)
    OR (was.status = 'pending' OR now.status = 'pending') AND (was.status, was.user_id) IS DISTINCT FROM (now.status, now.user_id),
    false)
$$;

-- The window a confirmed reservation holds; none otherwise.
CREATE OR REPLACE FUNCTION held_window(r reservations) RETURNS tstzmultirange
LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN r.status = 'confirmed' THEN tstzmultirange(tstzrange(r.start_at, r.end_at)) ELSE '{}' END
$$;

-- The place a change takes in, or gives back to, each owner's pending count, added to `pending` (owner id → change).
CREATE OR REPLACE FUNCTION with_pending_change(pending jsonb, was reservations, now reservations) RETURNS jsonb
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
  IF was.status = 'pending' THEN
    pending := jsonb_set(pending, ARRAY[was.user_id::text], to_jsonb(coalesce((pending ->> was.user_id::text)::int, 0) - 1));
  END IF;
  IF now.status = 'pending' THEN
    pending := jsonb_set(pending, ARRAY[now.user_id::text], to_jsonb(coalesce((pending ->> now.user_id::text)::int, 0) + 1));
  END IF;
  RETURN pending;
END $$;

-- The changes this transaction made so far that touch a counter, kept in transaction-local settings: they roll back
-- with the changes (savepoints included), no other session sees them, and no table is written to keep them.
-- `noted_changes` is their number, or `applied` once the first firing of reservations_keep_counters has applied
-- them. The first change notes only that it happened: its own firing comes first and knows its rows, and a
-- transaction of one change (most of them) pays for nothing more. Each later one notes the slots it touches
-- (`noted_windows`) and the change it makes to each owner's pending count (`noted_pending`).
CREATE OR REPLACE FUNCTION note_counter_change() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  noted text := current_setting('exam_slots.noted_changes', true);
  changes integer := CASE WHEN noted ~ '^\d+$' THEN noted::integer ELSE 0 END;
  windows tstzmultirange;
BEGIN
  IF NOT changes_counters(OLD, NEW) THEN
    RETURN NULL;
  END IF;
  IF changes = 0 THEN
    PERFORM set_config('exam_slots.noted_changes', '1', true);
    RETURN NULL;
  END IF;
  windows := held_window(OLD) + held_window(NEW);
  IF changes > 1 THEN
    windows := windows + current_setting('exam_slots.noted_windows')::tstzmultirange;
    -- A transaction of many changes (a bulk load) notes the range that holds all their windows: locking more than it
    -- needs stays safe, and noting stays cheap however many rows change.
    IF changes >= 64 THEN
      windows := tstzmultirange(range_merge(windows));
    END IF;
  END IF;
  PERFORM set_config('exam_slots.noted_changes', (changes + 1)::text, true),
    set_config('exam_slots.noted_windows', windows::text, true),
    set_config('exam_slots.noted_pending', with_pending_change(
      CASE WHEN changes > 1 THEN current_setting('exam_slots.noted_pending')::jsonb ELSE '{}' END, OLD, NEW
    )::text, true);
  RETURN NULL;
END $$;

-- Locks the counters of every slot of `windows`, in slot order, and shows them: missing rows are created first, in
-- slot order too. Every transaction that locks several windows' counters takes them this way, so none deadlocks
-- another.
CREATE OR REPLACE FUNCTION lock_counters(windows tstzmultirange)
RETURNS TABLE (slot_start timestamptz, confirmed integer)
LANGUAGE plpgsql AS $$
DECLARE
  limits record;
  step interval;
BEGIN
  SELECT * INTO limits FROM capacity_limits();
  step := make_interval(mins => limits.slot_minutes);
  -- Rows the snapshot has are left out before the insert: a conflict check waits on a row another commit holds.
  INSERT INTO slot_usage (slot_start, capacity)
  SELECT s, limits.capacity FROM unnest(coalesce(windows, '{}')) w, generate_series(lower(w), upper(w) - step, step) s
  WHERE NOT EXISTS (SELECT FROM slot_usage u WHERE u.slot_start = s)
  ORDER BY s
  ON CONFLICT DO NOTHING;
  RETURN QUERY
  SELECT u.slot_start, u.confirmed
  FROM unnest(coalesce(windows, '{}')) w JOIN slot_usage u ON u.slot_start >= lower(w) AND u.slot_start < upper(w)
  ORDER BY u.slot_start
  FOR UPDATE OF u;
END $$;

-- The first firing of a transaction of several changes, that of its first change (`was` → `now`): locks every counter
-- they touch, their slots (lock_counters) then their owners in id order, and changes each owner's pending count once,
-- by the sum of its changes (a row changed a thousand times in one transaction would otherwise grow a chain of a
-- thousand versions). Each firing then applies its own change to the slots.
CREATE OR REPLACE FUNCTION apply_noted_changes(was reservations, now reservations) RETURNS void
LANGUAGE plpgsql AS $$
DECLARE
  pending jsonb := with_pending_change(current_setting('exam_slots.noted_pending')::jsonb, was, now);
BEGIN
  PERFORM set_config('exam_slots.noted_changes', 'applied', true);
  PERFORM FROM lock_counters(
    held_window(was) + held_window(now) + current_setting('exam_slots.noted_windows')::tstzmultirange
  );
  PERFORM FROM users WHERE id IN (SELECT key::int FROM jsonb_each(pending)) ORDER BY id FOR NO KEY UPDATE;
  UPDATE users u SET pending_count = u.pending_count + d.value::int
  FROM jsonb_each_text(pending) d
  WHERE u.id = d.key::int AND d.value::int <> 0;
END $$;

-- How much a change adds to the confirmed count of one slot (negative: it gives back).
CREATE OR REPLACE FUNCTION slot_delta(slot timestamptz, was reservations, now reservations) RETURNS integer
LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE WHEN now.status = 'confirmed' AND slot >= now.start_at AND slot < now.end_at THEN now.headcount ELSE 0 END
    - CASE WHEN was.status = 'confirmed' AND slot >= was.start_at AND slot < was.end_at THEN was.headcount ELSE 0 END
$$;

-- Applies one change to the counters it touches: the slots of its old and new windows (a slot of both counts the
-- reservation's own headcount once), locked in slot order and changed only where they keep within capacity, judged on
-- the latest version of each row; then its owners' pending counts. A slot row's `capacity` follows the limits, so its
-- CHECK refuses an overbooked slot whatever writes the counter; a release never raises it above what the slot holds.
CREATE OR REPLACE FUNCTION keep_counters() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  limits record;
  step interval;
  claim boolean := coalesce(NEW.status = 'confirmed', false);
  release boolean := coalesce(OLD.status = 'confirmed', false);
  noted text := current_setting('exam_slots.noted_changes', true);
  refused record;
BEGIN
  IF NOT changes_counters(OLD, NEW) THEN
    RETURN NULL;
  END IF;
  SELECT * INTO limits FROM capacity_limits();
  step := make_interval(mins => limits.slot_minutes);
  -- Several changes in this transaction: all they touch is locked first, in the one global order, and the pending
  -- counts changed once each. A single change takes its own locks, in the same order, as it applies.
  IF noted ~ '^\d+$' AND noted <> '1' THEN
    PERFORM apply_noted_changes(OLD, NEW);
  END IF;

  IF claim THEN
    -- Rows the snapshot has are left out before the insert: a conflict check waits on a row another commit holds.
    INSERT INTO slot_usage (slot_start, capacity)
    SELECT s, limits.capacity FROM generate_series(NEW.start_at, NEW.end_at - step, step) s
    WHERE NOT EXISTS (SELECT FROM slot_usage u WHERE u.slot_start = s)
    ORDER BY s
    ON CONFLICT DO NOTHING;
  END IF;
  IF claim OR release THEN
    WITH locked AS MATERIALIZED (
      SELECT u.slot_start, u.confirmed, slot_delta(u.slot_start, OLD, NEW) AS delta FROM slot_usage u
      WHERE u.slot_start >= least(CASE WHEN release THEN OLD.start_at END, CASE WHEN claim THEN NEW.start_at END)
        AND u.slot_start < greatest(CASE WHEN release THEN OLD.end_at END, CASE WHEN claim THEN NEW.end_at END)
        AND slot_delta(u.slot_start, OLD, NEW) <> 0
      ORDER BY u.slot_start
      FOR UPDATE
    ), applied AS (
      UPDATE slot_usage u SET
        confirmed = u.confirmed + l.delta,
        capacity = CASE WHEN l.delta > 0 THEN limits.capacity ELSE greatest(limits.capacity, u.confirmed + l.delta) END
      FROM locked l
      WHERE u.slot_start = l.slot_start AND (l.delta < 0 OR u.confirmed + l.delta <= limits.capacity)
      RETURNING u.slot_start
    )
    SELECT l.slot_start, l.confirmed INTO refused
    FROM locked l
    WHERE l.slot_start NOT IN (SELECT slot_start FROM applied)
    ORDER BY l.confirmed DESC, l.slot_start
    LIMIT 1;
    IF FOUND THEN
      RAISE EXCEPTION 'reservation % does not fit its window', NEW.id
        USING ERRCODE = 'check_violation', CONSTRAINT = 'slot_usage_within_capacity', TABLE = 'slot_usage',
          DETAIL = json_build_object(
            'slot_start', refused.slot_start, 'confirmed', refused.confirmed, 'headcount', NEW.headcount
          )::text;
    END IF;
  END IF;
  IF noted = '1' THEN
    IF OLD.status = 'pending' THEN
      UPDATE users SET pending_count = pending_count - 1 WHERE id = OLD.user_id;
    END IF;
    IF NEW.status = 'pending' THEN
      UPDATE users SET pending_count = pending_count + 1 WHERE id = NEW.user_id;
    END IF;
  END IF;
  RETURN NULL;
END $$;

DROP TRIGGER IF EXISTS reservations_note_counters ON reservations;
CREATE TRIGGER reservations_note_counters AFTER INSERT OR UPDATE OR DELETE ON reservations
  FOR EACH ROW EXECUTE FUNCTION note_counter_change();

DROP TRIGGER IF EXISTS reservations_keep_counters ON reservations;
CREATE CONSTRAINT TRIGGER reservations_keep_counters AFTER INSERT OR UPDATE OR DELETE ON reservations
  DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW EXECUTE FUNCTION keep_counters();
