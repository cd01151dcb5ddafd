-- Webhooks: the history events (reservation_events) are the outbox.

-- Queues a delivery of each new event to every endpoint that wants its action: the owner's, and every admin's. Per
-- statement, inside the change's own transaction: a change that rolls back queues nothing, a commit loses nothing.
CREATE OR REPLACE FUNCTION queue_webhook_deliveries() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  -- No endpoint at all (a service that sends no webhooks): nothing to queue, at the cost of one index probe.
  IF NOT EXISTS (SELECT FROM webhooks) THEN
    RETURN NULL;
  END IF;
  INSERT INTO webhook_deliveries (webhook_id, event_id, reservation_id, queued_at, next_attempt_at)
  SELECT w.id, e.id, e.reservation_id, now(), now()
  FROM new_events e
  CROSS JOIN LATERAL (
    SELECT id FROM webhooks WHERE user_id = e.owner_id
    UNION
    SELECT w.id FROM users u JOIN webhooks w ON w.user_id = u.id WHERE u.is_admin
  ) recipient
  JOIN webhooks w ON w.id = recipient.id AND e.action = ANY (w.actions);
  RETURN NULL;
END $$;

DROP TRIGGER IF EXISTS reservation_events_webhooks ON reservation_events;
CREATE TRIGGER reservation_events_webhooks AFTER INSERT ON reservation_events
  REFERENCING NEW TABLE AS new_events FOR EACH STATEMENT EXECUTE FUNCTION queue_webhook_deliveries();
