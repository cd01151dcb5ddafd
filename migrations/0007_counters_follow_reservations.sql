-- From here the database keeps every counter itself, for any writer, by the triggers of definitions/20_capacity.sql:
-- the functions and triggers of 0004–0006 that kept parts of them go.
DROP TRIGGER reservations_pending_insert ON reservations;
DROP TRIGGER reservations_pending_delete ON reservations;
DROP TRIGGER reservations_pending_status ON reservations;
DROP TRIGGER reservations_claim_capacity ON reservations;
DROP FUNCTION count_pending_reservations();
DROP FUNCTION count_pending_status_change();
DROP FUNCTION claim_confirmed_capacity();
DROP FUNCTION lock_reservation_version(integer, integer);

-- The limits the counters are kept against, whoever writes a reservation: one row, stored by the service from its
-- configuration at start-up (MAX_CONCURRENT_EXAMINEES, SLOT_MINUTES). Without it, the contract's defaults apply.
CREATE TABLE capacity_settings (
  only_row boolean PRIMARY KEY DEFAULT true CHECK (only_row),
  capacity integer NOT NULL CHECK (capacity > 0),
  slot_minutes integer NOT NULL CHECK (slot_minutes > 0 AND 1440 % slot_minutes = 0)
);

-- Each event keeps the reservation as the API showed it after the change (as it was, for `deleted` and `released`).
ALTER TABLE reservation_events ADD COLUMN reservation jsonb;
