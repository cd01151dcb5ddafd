CREATE TABLE reservations (
  id integer GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  user_id integer NOT NULL REFERENCES users (id) ON DELETE CASCADE,
  start_at timestamptz NOT NULL,
  end_at timestamptz NOT NULL,
  headcount integer NOT NULL CHECK (headcount > 0),
  status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'confirmed')),
  created_at timestamptz NOT NULL DEFAULT now(),
  updated_at timestamptz NOT NULL DEFAULT now(),
  confirmed_at timestamptz,
  CONSTRAINT reservations_window CHECK (start_at < end_at AND end_at - start_at <= interval '24 hours'),
  CONSTRAINT reservations_confirmed_at CHECK ((status = 'confirmed') = (confirmed_at IS NOT NULL))
);

-- "Mine, newest first" and the admin's "all, newest first".
CREATE INDEX reservations_user_newest ON reservations (user_id, created_at DESC, id DESC);
CREATE INDEX reservations_newest ON reservations (created_at DESC, id DESC);
-- Overlap filters (`from`/`to`) query tstzrange(start_at, end_at) && tstzrange(from, to).
CREATE INDEX reservations_window_overlap ON reservations USING gist (tstzrange(start_at, end_at));

-- The confirmed headcount of every slot that ever had one: capacity checks read these rows instead of
-- summing reservations. A row is created on first claim and never deleted.
CREATE TABLE slot_usage (
  slot_start timestamptz PRIMARY KEY,
  confirmed integer NOT NULL DEFAULT 0 CHECK (confirmed >= 0)
);
