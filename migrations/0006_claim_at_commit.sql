-- A confirmation changes two rows that every confirmation of a busy window or a busy customer shares: the window's
-- slot counters and the owner's pending count. Changed by the statement that confirms, they stay locked across the
-- round trip to the COMMIT, and confirmations of one hot window queue behind that round trip. Changed by deferred
-- triggers, they are locked at COMMIT only, for as long as the commit takes.
--
-- The confirming transaction names its limits, transaction-local: exam_slots.capacity and exam_slots.slot_minutes.
-- A claim that does not fit fails the COMMIT (and so rolls the confirmation back) with a check_violation of
-- slot_usage_within_capacity, whose DETAIL is the fullest slot that refused, as JSON.

DROP TRIGGER reservations_pending_status ON reservations;
CREATE CONSTRAINT TRIGGER reservations_pending_status AFTER UPDATE OF status, user_id ON reservations
  DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status OR OLD.user_id IS DISTINCT FROM NEW.user_id)
  EXECUTE FUNCTION count_pending_status_change();

CREATE FUNCTION claim_confirmed_capacity() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  slot_capacity integer := current_setting('exam_slots.capacity')::integer;
  slot_length interval := make_interval(mins => current_setting('exam_slots.slot_minutes')::integer);
  slots integer := (SELECT count(*) FROM generate_series(NEW.start_at, NEW.end_at - slot_length, slot_length));
  locked_slots integer;
  claimed_slots integer;
  refused_start timestamptz;
  refused_confirmed integer;
BEGIN
  -- Rows the snapshot has are left out before the insert: a conflict check waits on a row another commit holds.
  INSERT INTO slot_usage (slot_start, capacity)
  SELECT s, slot_capacity FROM generate_series(NEW.start_at, NEW.end_at - slot_length, slot_length) s
  WHERE NOT EXISTS (SELECT FROM slot_usage u WHERE u.slot_start = s)
  ORDER BY s
  ON CONFLICT DO NOTHING;

  -- Locked in slot order, so that no two claims deadlock; the fit is judged on the latest version of each row.
  WITH locked AS MATERIALIZED (
    SELECT slot_start, confirmed FROM slot_usage
    WHERE slot_start >= NEW.start_at AND slot_start < NEW.end_at
    ORDER BY slot_start
    FOR UPDATE
  ), claimed AS (
    UPDATE slot_usage u SET confirmed = u.confirmed + NEW.headcount, capacity = slot_capacity
    FROM locked l
    WHERE u.slot_start = l.slot_start AND u.confirmed + NEW.headcount <= slot_capacity
    RETURNING u.slot_start
  ), refused AS (
    SELECT slot_start, confirmed FROM locked WHERE slot_start NOT IN (SELECT slot_start FROM claimed)
    ORDER BY confirmed DESC, slot_start
    LIMIT 1
  )
  SELECT (SELECT count(*) FROM locked), (SELECT count(*) FROM claimed), r.slot_start, r.confirmed
  INTO locked_slots, claimed_slots, refused_start, refused_confirmed
  FROM (SELECT) one LEFT JOIN refused r ON true;

  IF locked_slots <> slots THEN
    RAISE EXCEPTION 'reservation %: % of its % slot counters are missing', NEW.id, slots - locked_slots, slots;
  END IF;
  IF claimed_slots <> slots THEN
    RAISE EXCEPTION 'reservation % does not fit its window', NEW.id
      USING ERRCODE = 'check_violation', CONSTRAINT = 'slot_usage_within_capacity', TABLE = 'slot_usage',
        DETAIL = json_build_object(
          'slot_start', refused_start, 'confirmed', refused_confirmed, 'headcount', NEW.headcount
        )::text;
  END IF;
  RETURN NULL;
END $$;

CREATE CONSTRAINT TRIGGER reservations_claim_capacity AFTER UPDATE OF status ON reservations
  DEFERRABLE INITIALLY DEFERRED
  FOR EACH ROW WHEN (OLD.status = 'pending' AND NEW.status = 'confirmed')
  EXECUTE FUNCTION claim_confirmed_capacity();
