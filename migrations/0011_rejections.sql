-- v1.2: an admin may reject a pending reservation with a reason. A rejected one holds no capacity and no place in its
-- owner's pending count (the counters' triggers count only confirmed and pending ones); it can only be deleted.
ALTER TABLE reservations
  ADD COLUMN rejected_at timestamptz,
  ADD COLUMN reject_reason text,
  DROP CONSTRAINT reservations_status_check,
  ADD CONSTRAINT reservations_status_check CHECK (status IN ('pending', 'confirmed', 'rejected')),
  ADD CONSTRAINT reservations_rejected CHECK (
    (status = 'rejected') = (rejected_at IS NOT NULL)
    AND (status = 'rejected') = (reject_reason IS NOT NULL)
    AND length(reject_reason) BETWEEN 1 AND 500
  );

ALTER TABLE reservation_events
  DROP CONSTRAINT reservation_events_action_check,
  ADD CONSTRAINT reservation_events_action_check
    CHECK (action IN ('created', 'changed', 'confirmed', 'rejected', 'deleted', 'released'));

-- Lists ordered by start (`ordering=start_at`); created_at orders use reservations_newest, either way.
CREATE INDEX reservations_starting ON reservations (start_at, id);

-- Definitions whose signature changed (definitions/ replaces a function only under its own signature).
DROP FUNCTION IF EXISTS lock_noted_counters(integer, interval);
DROP FUNCTION IF EXISTS lock_noted_counters();
DROP FUNCTION IF EXISTS apply_noted_changes();
DROP FUNCTION IF EXISTS capacity_limits();
DROP FUNCTION IF EXISTS window_slots(timestamptz, timestamptz);
