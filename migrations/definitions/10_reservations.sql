-- A reservation as the API shows it, and its ETag: the one builder of both, for responses, the outcomes stored for
-- Idempotency-Key replays, and the events' snapshots. Instants in UTC with milliseconds and `Z`.

CREATE OR REPLACE FUNCTION api_instant(instant timestamptz) RETURNS text
LANGUAGE sql STABLE PARALLEL SAFE AS $$
  SELECT to_char(instant AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')
$$;

-- STRICT: no reservation (a LEFT JOIN that found none) shows as NULL, not as an object of nulls.
CREATE OR REPLACE FUNCTION reservation_json(r reservations) RETURNS json
LANGUAGE sql STABLE STRICT PARALLEL SAFE AS $$
  SELECT json_build_object(
    'id', r.id,
    'user_id', r.user_id,
    'start_at', api_instant(r.start_at),
    'end_at', api_instant(r.end_at),
    'headcount', r.headcount,
    'status', r.status,
    'created_at', api_instant(r.created_at),
    'updated_at', api_instant(r.updated_at),
    'confirmed_at', api_instant(r.confirmed_at)
  )
$$;

-- Strong: the id and the version every write of the reservation bumps.
CREATE OR REPLACE FUNCTION reservation_etag(r reservations) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
  SELECT '"' || r.id || '.' || r.version || '"'
$$;
