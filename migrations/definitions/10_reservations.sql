-- A reservation as the API shows it, and its ETag: the one builder of both, for responses, the outcomes stored for
-- Idempotency-Key replays, and the events' snapshots. Instants in UTC with milliseconds and `Z`.

CREATE OR REPLACE FUNCTION api_instant(instant timestamptz) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT to_char(instant AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
$$;

-- No reservation (a LEFT JOIN that found none) shows as NULL, not as an object of nulls. Each of these is a single
-- expression, so PostgreSQL inlines it into the statement that calls it (a function it cannot inline is planned anew
-- on every call: STRICT, or an IMMUTABLE one over STABLE operators, would cost that).
CREATE OR REPLACE FUNCTION reservation_json(r reservations) RETURNS json
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN r.id IS NOT NULL THEN json_build_object(
    'id', r.id,
    'user_id', r.user_id,
    'start_at', api_instant(r.start_at),
    'end_at', api_instant(r.end_at),
    'headcount', r.headcount,
    'status', r.status,
    'created_at', api_instant(r.created_at),
    'updated_at', api_instant(r.updated_at),
    'confirmed_at', api_instant(r.confirmed_at),
    'rejected_at', api_instant(r.rejected_at),
    'reject_reason', r.reject_reason
  ) END
$$;

-- Strong: the id and the version every write of the reservation bumps.
CREATE OR REPLACE FUNCTION reservation_etag(r reservations) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT '"' || r.id || '.' || r.version || '"'
$$;
