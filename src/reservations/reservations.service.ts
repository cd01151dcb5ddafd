import type postgres from "postgres";
import type { Deps } from "../deps.ts";
import type { Sql, Tx } from "../platform/db.ts";
import { AppError } from "../http/problem.ts";
import { type Page, withTotal } from "../http/pagination.ts";
import type { Caller, User, UserJson } from "../auth/auth.schemas.ts";
import { type KeyedRequest, keyInUse, keyTaken, lockKey, outcomeInsert } from "../idempotency/idempotency.service.ts";
import { assertFits, capacityRefusal, type FullestSlot, fullestSlot, type Hold } from "./capacity.ts";
import { assertBookingOpen, assertValidBooking } from "./rules.ts";
import { assertIfMatch } from "./etag.ts";
import { type Changes, eventInsert } from "./history.ts";
import type { Reservation, ReservationFilters, ReservationStatus } from "./reservations.schemas.ts";

type ServiceDeps = Pick<Deps, "sql" | "config" | "clock">;

/** What a write knows of its request besides the caller: for history, ETags and safe retries. */
export type Write = { requestId: string; ifMatch?: string; idempotency?: KeyedRequest };

/** The columns of a reservation the rules read. */
type ReservationRow = Hold & { id: number; user_id: number; status: ReservationStatus; version: number };

/** A reservation as responses show it, with the ETag of its version. */
export type Versioned = { reservation: Reservation; etag: string };

/**
 * The reservation as the API shows it and its ETag, as named columns of a statement: built by the database
 * (`reservation_json`, `reservation_etag`), the one builder for responses, stored outcomes and events alike.
 * `row` is a whole `reservations` row; NULL when there is none.
 */
const shown = (sql: Sql | Tx, row: postgres.Fragment) =>
  sql`reservation_json(${row}) AS body, reservation_etag(${row}) AS etag`;

type Shown = { body: Reservation | null; etag: string | null };

const versioned = ({ body, etag }: Shown): Versioned => ({ reservation: body!, etag: etag! });

const notFound = () => new AppError("NOT_FOUND", "No such reservation");
const notPending = (detail: string) => new AppError("RESERVATION_NOT_PENDING", detail);

/** A customer only ever sees their own reservations: another's is "not found", never "forbidden". */
function assertVisible<T extends { user_id: number }>(user: User, row: T | undefined): asserts row is T {
  if (!row || !(user.is_admin || row.user_id === user.id)) throw notFound();
}

/**
 * The INSERT storing the outcome of a keyed write of a reservation, built from `rows` (a relation whose `row` column is
 * the reservation after the write, as for `eventInsert`): its body and ETag are the response's. With `status` 204, no
 * body.
 */
function reservationOutcome(tx: Tx | Sql, key: KeyedRequest, now: Date, status: number, rows: postgres.Fragment) {
  const withBody = status !== 204;
  return outcomeInsert(tx, key, now, {
    status,
    headers: withBody
      ? tx`jsonb_build_object('Content-Type', 'application/json', 'ETag', reservation_etag(c.row))`
      : tx`'{}'::jsonb`,
    body: withBody ? tx`reservation_json(c.row)::jsonb` : tx`NULL::jsonb`,
    from: tx`FROM ${rows} c`,
  });
}

/** `, outcome AS (…)` for a keyed write; nothing without a key. */
const outcomeCte = (tx: Tx | Sql, key: KeyedRequest | undefined, now: Date, status: number, rows: postgres.Fragment) =>
  key ? tx`, outcome AS (${reservationOutcome(tx, key, now, status, rows)})` : tx``;

/** The fullest slot a statement read, as its named columns `fullest_start` and `fullest_confirmed` give it. */
type FullestColumns = { fullest_start: Date | null; fullest_confirmed: number | null };
const fullestOf = ({ fullest_start, fullest_confirmed }: FullestColumns): FullestSlot | undefined =>
  fullest_start ? { slot_start: fullest_start, confirmed: fullest_confirmed! } : undefined;

/**
 * Requests a reservation, in one statement: the owner's row is locked so the pending cap holds under concurrent
 * requests, and the reservation is inserted only when the cap, the remaining capacity and the Idempotency-Key
 * (if any) allow it; its `created` event and stored outcome go in with it.
 */
export async function createReservation(deps: ServiceDeps, caller: Caller, booking: Hold, write: Write) {
  const { sql, config, clock } = deps;
  const now = clock();
  assertValidBooking(booking, config);
  const user = await caller.user;
  assertBookingOpen(booking.start_at, user, now, config.BOOKING_LEAD_DAYS);
  const key = write.idempotency;
  const iso = (instant: Date) => instant.toISOString();
  const [row] = await sql<(Shown & CreateVerdict)[]>`
    WITH owner AS MATERIALIZED (
      SELECT id, pending_count FROM users WHERE id = ${user.id} FOR NO KEY UPDATE
    ), key AS MATERIALIZED (
      SELECT ${key ? lockKey(sql, key) : sql`true`} AS free
    ), fullest AS (${fullestSlot(sql, booking)}), created AS (
      INSERT INTO reservations (user_id, start_at, end_at, headcount, created_at, updated_at)
      SELECT owner.id, ${booking.start_at}, ${booking.end_at}, ${booking.headcount}, ${now}, ${now} FROM owner, key
      WHERE key.free
        AND (${user.is_admin} OR owner.pending_count < ${config.MAX_PENDING_PER_USER})
        AND ${booking.headcount} <= ${config.MAX_CONCURRENT_EXAMINEES} - coalesce((SELECT confirmed FROM fullest), 0)
      RETURNING reservations AS row
    ), event AS (${
    eventInsert(sql, {
      action: "created",
      at: now,
      actorId: user.id,
      requestId: write.requestId,
      changes: {
        start_at: [null, iso(booking.start_at)],
        end_at: [null, iso(booking.end_at)],
        headcount: [null, booking.headcount],
      },
    }, sql`created`)
  })${outcomeCte(sql, key, now, 201, sql`created`)}
    SELECT ${shown(sql, sql`created.row`)}, owner.id IS NOT NULL AS owner_exists, owner.pending_count,
      key.free AS key_free, fullest.slot_start AS fullest_start, fullest.confirmed AS fullest_confirmed
    FROM key LEFT JOIN owner ON true LEFT JOIN fullest ON true LEFT JOIN created ON true`.catch(keyTaken);
  if (!row.owner_exists) throw new AppError("UNAUTHENTICATED", "The user no longer exists");
  if (!row.key_free) throw keyInUse();
  if (row.body === null) {
    if (!user.is_admin && row.pending_count >= config.MAX_PENDING_PER_USER) {
      throw new AppError(
        "TOO_MANY_PENDING",
        `You already hold ${config.MAX_PENDING_PER_USER} pending reservations: wait for a confirmation or delete one`,
      );
    }
    assertFits(config, booking, fullestOf(row));
  }
  return versioned(row);
}

type CreateVerdict = FullestColumns & { owner_exists: boolean; pending_count: number; key_free: boolean };

/** Newest first; a customer's `user_id` filter is replaced by their own id. The total comes in the same statement. */
export async function listReservations({ sql }: ServiceDeps, caller: Caller, filters: ReservationFilters, page: Page) {
  // The caller's role is read inside the statement, so the list does not wait for the caller's row.
  const isAdmin = sql`coalesce((SELECT is_admin FROM users WHERE id = ${caller.id}), false)`;
  const { status, user_id, from = null, to = null } = filters;
  // Overlap with [from, to), either end open; tstzrange(start_at, end_at) is what the gist index covers.
  const overlapping = from || to
    ? sql`AND tstzrange(start_at, end_at) && tstzrange(${from}::timestamptz, ${to}::timestamptz)`
    : sql``;
  const matching = sql`
    SELECT r AS row, r.id, r.created_at FROM reservations r
    WHERE (user_id = ${caller.id} OR ${isAdmin})
    ${user_id === undefined ? sql`` : sql`AND (user_id = ${user_id} OR NOT ${isAdmin})`}
    ${status ? sql`AND status = ${status}` : sql``}
    ${overlapping}`;
  const order = sql`ORDER BY created_at DESC, id DESC`;
  const [, rows] = await Promise.all([
    caller.user,
    sql<(Shown & { id: number | null; total: number })[]>`${
      withTotal(sql, matching, order, page, sql`p.id, ${shown(sql, sql`p.row`)}`)
    }`,
  ]);
  return { count: rows[0].total, reservations: rows.filter((row) => row.id !== null).map((row) => row.body!) };
}

/** The caller's row and the reservation are read alongside each other. */
export async function getReservation({ sql }: ServiceDeps, caller: Caller, id: number): Promise<Versioned> {
  const [user, [row]] = await Promise.all([
    caller.user,
    sql<(Shown & { user_id: number })[]>`SELECT r.user_id, ${
      shown(sql, sql`r`)
    } FROM reservations r WHERE r.id = ${id}`,
  ]);
  assertVisible(user, row);
  return versioned(row);
}

/** The reservation a change judges: its columns, its ETag, and (for a claim of its own window) the fullest slot. */
type Seen = ReservationRow & { etag: string; fullest: FullestSlot | undefined };
type SeenRow = ReservationRow & FullestColumns & { etag: string };

const seenOf = (row: SeenRow): Seen => ({ ...row, fullest: fullestOf(row) });

/** What every change statement answers besides its own columns: see `changeHead`. */
type Verdict = { key_free: boolean; found_version: number | null };

/**
 * One change of a reservation the rules let through, as a single statement after `changeHead`, and what to make of
 * its answer (throw to roll the transaction back).
 */
type Change<A extends Verdict, T> = {
  statement: (tx: Tx, head: postgres.Fragment) => postgres.PendingQuery<A[]>;
  result: (answer: A) => T;
};

/**
 * The CTEs every change statement starts with: `key` (the Idempotency-Key claimed for this transaction, if any),
 * `locked` (the reservation, `SELECT … FOR UPDATE`) and `target`, the reservation's id only while it is still at the
 * version the rules were judged on and the key is free: every write of the change goes through `target`, so a stale
 * judgement applies nothing. `verdict` is the select list that says which.
 */
function changeHead(tx: Tx, id: number, version: number, key: KeyedRequest | undefined) {
  return tx`
    key AS MATERIALIZED (SELECT ${key ? lockKey(tx, key) : tx`true`} AS free),
    locked AS MATERIALIZED (SELECT r.version FROM reservations r WHERE r.id = ${id} FOR UPDATE),
    target AS (SELECT ${id}::int AS id FROM locked, key WHERE locked.version = ${version} AND key.free)`;
}

const verdict = (tx: Tx) => tx`key.free AS key_free, (SELECT version FROM locked) AS found_version`;

/** The reservation moved between the read the rules judged and its lock: judge it again. */
class Moved extends Error {}

/**
 * One change of one reservation in one transaction, in four round trips: the reservation is read with the caller's
 * user in one statement and the rules judge it there, so a refusal costs no transaction; then BEGIN, the change as one
 * statement, COMMIT. The statement locks the reservation and writes only if it is still at the version judged; if it
 * moved in between, the rules judge it again in a transaction whose first statement locks it, so contention costs
 * round trips, never a lost update. A change that `claimsOwnWindow` (a confirmation) has its window's fullest slot
 * read too: a headcount that does not fit even there is refused at once. The counters follow at COMMIT (the database
 * keeps them, migrations/definitions/20_capacity.sql); a claim that does not fit fails it, answered as
 * CAPACITY_EXCEEDED. Nothing is awaited inside a transaction but its own statements, so a busy pool (or PGlite's one
 * connection) cannot deadlock.
 */
async function changeReservation<A extends Verdict, T>(
  { sql, config }: ServiceDeps,
  caller: Caller,
  id: number,
  write: Write,
  plan: (current: Seen, user: User) => Change<A, T>,
  { claimsOwnWindow = false } = {},
): Promise<T> {
  // Built for the connection that sends it: the first read on the pool, the second in its transaction.
  const seen = (q: Sql | Tx) => {
    const fullest = claimsOwnWindow
      ? q`LEFT JOIN LATERAL (${fullestSlot(q, { start_at: q`r.start_at`, end_at: q`r.end_at` })}) f ON true`
      : q`LEFT JOIN (SELECT NULL::timestamptz AS slot_start, NULL::int AS confirmed) f ON true`;
    return q`r.*, reservation_etag(r) AS etag, f.slot_start AS fullest_start, f.confirmed AS fullest_confirmed
      FROM reservations r ${fullest}`;
  };
  const [read] = await sql<(SeenRow & { caller: UserJson | null })[]>`
    SELECT ${caller.userQuery(sql)} AS caller, seen.* FROM (SELECT) one LEFT JOIN LATERAL (
      SELECT ${seen(sql)} WHERE r.id = ${id}
    ) seen ON true`;
  const user = await caller.settle(read.caller);
  const judge = (current: SeenRow | undefined) => {
    assertVisible(user, current);
    assertIfMatch(write.ifMatch, current.etag);
    return { change: plan(seenOf(current), user), version: current.version };
  };
  const apply = async (tx: Tx, { change, version }: ReturnType<typeof judge>) => {
    const [answer] = await change.statement(tx, changeHead(tx, id, version, write.idempotency));
    if (!answer.key_free) throw keyInUse();
    if (answer.found_version !== version) throw new Moved();
    return change.result(answer);
  };
  const inTransaction = (body: (tx: Tx) => Promise<T>) =>
    (sql.begin(body) as Promise<T>).catch((error) => {
      keyTaken(error);
    });
  // Judged on the read, before any transaction opens; again on the locked row if it moved meanwhile.
  const judged = judge(read.id === null ? undefined : read);
  const relocked = () =>
    inTransaction(async (tx) => {
      const [current] = await tx<SeenRow[]>`SELECT ${seen(tx)} WHERE r.id = ${id} FOR UPDATE OF r`;
      return await apply(tx, judge(current));
    });
  try {
    return await inTransaction((tx) => apply(tx, judged)).catch((error) => {
      if (error instanceof Moved) return relocked();
      throw error;
    });
  } catch (error) {
    throw capacityRefusal(config, error);
  }
}

/** `{ field: [old, new] }` for every field of the booking that changes. */
function changesOf(current: Hold, next: Hold): Changes {
  const json = (value: Date | number) => value instanceof Date ? value.toISOString() : value;
  const fields = ["start_at", "end_at", "headcount"] as const;
  return Object.fromEntries(
    fields.filter((f) => json(current[f]) !== json(next[f])).map((f) => [f, [json(current[f]), json(next[f])]]),
  );
}

/** The event of a change made by `user`, for `eventInsert`. */
const eventOf = (
  user: User,
  write: Write,
  now: Date,
  action: "changed" | "confirmed" | "deleted",
  changes?: Changes,
) => ({
  action,
  at: now,
  actorId: user.id,
  requestId: write.requestId,
  changes,
});

/**
 * Validated as the resulting reservation. A pending one must fit the remaining capacity of its new window; a confirmed
 * one (admins only) has its capacity moved by the database at COMMIT, or nothing changes.
 */
export function updateReservation(
  deps: ServiceDeps,
  caller: Caller,
  id: number,
  changes: Partial<Hold>,
  write: Write,
): Promise<Versioned> {
  const { config, clock } = deps;
  const now = clock();
  return changeReservation(deps, caller, id, write, (current, user) => {
    if (!user.is_admin && current.status !== "pending") {
      throw notPending("A confirmed reservation can only be changed by an admin");
    }
    const next: Hold = {
      start_at: changes.start_at ?? current.start_at,
      end_at: changes.end_at ?? current.end_at,
      headcount: changes.headcount ?? current.headcount,
    };
    assertValidBooking(next, config);
    for (const startAt of [current.start_at, next.start_at]) {
      assertBookingOpen(startAt, user, now, config.BOOKING_LEAD_DAYS);
    }
    const event = eventOf(user, write, now, "changed", changesOf(current, next));
    return {
      statement: (tx, head) =>
        tx<(Shown & FullestColumns & Verdict)[]>`
          WITH ${head}, changed AS (
            UPDATE reservations r
            SET start_at = ${next.start_at}, end_at = ${next.end_at}, headcount = ${next.headcount},
              updated_at = ${now}, version = r.version + 1
            FROM target WHERE r.id = target.id
            RETURNING r AS row
          ), event AS (${eventInsert(tx, event, tx`changed`)}),
          fullest AS (${fullestSlot(tx, next)})${outcomeCte(tx, write.idempotency, now, 200, tx`changed`)}
          SELECT ${verdict(tx)}, ${shown(tx, tx`changed.row`)},
            fullest.slot_start AS fullest_start, fullest.confirmed AS fullest_confirmed
          FROM key LEFT JOIN changed ON true LEFT JOIN fullest ON true`,
      result: (answer) => {
        // A pending request is refused up front when it does not fit; a confirmed one is judged at COMMIT.
        if (current.status === "pending") assertFits(config, next, fullestOf(answer));
        return versioned(answer);
      },
    };
  });
}

/** Deleting a confirmed reservation (admins only) releases its slots at COMMIT. */
export async function deleteReservation(deps: ServiceDeps, caller: Caller, id: number, write: Write) {
  const now = deps.clock();
  await changeReservation(deps, caller, id, write, (current, user) => {
    if (!user.is_admin && current.status !== "pending") {
      throw notPending("A confirmed reservation can only be deleted by an admin");
    }
    return {
      statement: (tx, head) =>
        tx<Verdict[]>`
          WITH ${head}, deleted AS (
            DELETE FROM reservations r USING target WHERE r.id = target.id
            RETURNING r AS row
          ), event AS (${eventInsert(tx, eventOf(user, write, now, "deleted"), tx`deleted`)})${
          outcomeCte(tx, write.idempotency, now, 204, tx`deleted`)
        }
          SELECT ${verdict(tx)} FROM key`,
      result: () => undefined,
    };
  });
}

/**
 * Confirms a pending reservation whose headcount fits, in one statement: the reservation is locked, confirmed and its
 * event recorded. Its window's slot counters, the contended rows, are claimed at COMMIT by the database, so they are
 * held for as long as a commit takes; a claim that does not fit fails the COMMIT. One that does not fit even on the
 * read is refused there, without a transaction.
 */
export function confirmReservation(deps: ServiceDeps, caller: Caller, id: number, write: Write): Promise<Versioned> {
  const { config, clock } = deps;
  const now = clock();
  return changeReservation(deps, caller, id, write, (current, user) => {
    if (current.status !== "pending") throw notPending("Only a pending reservation can be confirmed");
    assertBookingOpen(current.start_at, user, now, config.BOOKING_LEAD_DAYS);
    assertFits(config, current, current.fullest);
    const event = eventOf(user, write, now, "confirmed", { status: ["pending", "confirmed"] });
    return {
      statement: (tx, head) =>
        tx<(Shown & Verdict)[]>`
          WITH ${head}, confirmed AS (
            UPDATE reservations r
            SET status = 'confirmed', confirmed_at = ${now}, updated_at = ${now}, version = r.version + 1
            FROM target WHERE r.id = target.id
            RETURNING r AS row
          ), event AS (${eventInsert(tx, event, tx`confirmed`)})${
          outcomeCte(tx, write.idempotency, now, 200, tx`confirmed`)
        }
          SELECT ${verdict(tx)}, ${shown(tx, tx`confirmed.row`)} FROM key LEFT JOIN confirmed ON true`,
      result: versioned,
    };
  }, { claimsOwnWindow: true });
}
