-- v1.2 webhooks: endpoints, the deliveries still owed to them, and the attempts made.

-- At most 5 per user (the service holds the user's row while it counts); they go with their user.
CREATE TABLE webhooks (
  id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  user_id integer NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  url text NOT NULL,
  -- The history actions it receives (`confirmed` for reservation.confirmed).
  actions text[] NOT NULL,
  -- `whsec_` + base64 of 32 random bytes: the service signs with it, so it is kept as is.
  secret text NOT NULL,
  created_at timestamptz NOT NULL
);
CREATE INDEX webhooks_owner ON webhooks (user_id, id);
-- The admins, whose endpoints receive every reservation's events.
CREATE INDEX users_admins ON users (id) WHERE is_admin;

-- One row per (endpoint, event) still to deliver: queued in the transaction that records the event, deleted once
-- delivered or failed, so only the last ~24 h of an endpoint's events can be here. No foreign key: a reservation's
-- change must never wait for (or fail on) an endpoint being deleted. Deleting an endpoint deletes its rows; a row
-- queued for an endpoint deleted meanwhile (or with its user) is dropped by the next claim that meets it.
CREATE TABLE webhook_deliveries (
  webhook_id integer NOT NULL,
  event_id bigint NOT NULL,
  reservation_id integer NOT NULL,
  -- The 24 h of retries count from here.
  queued_at timestamptz NOT NULL,
  attempts integer NOT NULL DEFAULT 0,
  -- When it is due; while an attempt runs, the end of that attempt's lease, after which another instance may take it.
  next_attempt_at timestamptz NOT NULL,
  PRIMARY KEY (webhook_id, event_id)
);
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (next_attempt_at);
-- "Is an earlier event of this reservation still owed to this endpoint?"
CREATE INDEX webhook_deliveries_order ON webhook_deliveries (webhook_id, reservation_id, event_id);

-- Every attempt, as GET /webhooks/{id}/deliveries/ shows it; only the newest WEBHOOK_ATTEMPTS_KEPT per endpoint stay.
CREATE TABLE webhook_attempts (
  id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  webhook_id integer NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
  event_id bigint NOT NULL,
  attempt integer NOT NULL,
  at timestamptz NOT NULL,
  status_code integer,
  error text,
  next_attempt_at timestamptz,
  state text NOT NULL CHECK (state IN ('pending', 'delivered', 'failed'))
);
CREATE INDEX webhook_attempts_newest ON webhook_attempts (webhook_id, id DESC);

-- Deliveries are queued for each new event by reservation_events_webhooks (definitions/30_webhooks.sql).
