import type { Deps } from "../deps.ts";
import { isSerializationFailure, type Sql, type Tx } from "../platform/db.ts";
import { AppError } from "../http/problem.ts";
import { type Page, withTotal } from "../http/pagination.ts";
import type postgres from "postgres";
import type { Caller, User, UserJson } from "../auth/auth.schemas.ts";
import { type KeyedRequest, keyInUse, keyTaken, lockKey, outcomeInsert } from "../idempotency/idempotency.service.ts";
import {
  assertFits,
  assertShifted,
  capacityShift,
  commitClaimLimits,
  commitClaimRefusal,
  type FullestSlot,
  fullestSlot,
  type Hold,
} from "./capacity.ts";
import { assertBookingOpen, assertValidBooking } from "./rules.ts";
import { assertIfMatch, etagOf, etagSql } from "./etag.ts";
import { type Changes, eventInsert, knownReservation, reservationJson } from "./history.ts";
import type { Reservation, ReservationFilters, ReservationStatus } from "./reservations.schemas.ts";

type ServiceDeps = Pick<Deps, "sql" | "config" | "clock">;

/** What a write knows of its request besides the caller: for history, ETags and safe retries. */
export type Write = { requestId: string; ifMatch?: string; idempotency?: KeyedRequest };

export type ReservationRow = Hold & {
  id: number;
  user_id: number;
  status: ReservationStatus;
  created_at: Date;
  updated_at: Date;
  confirmed_at: Date | null;
  version: number;
};

/** A reservation as responses show it, with the ETag of its version. */
export type Versioned = { reservation: Reservation; etag: string };

export const toReservation = (row: ReservationRow): Reservation => ({
  id: row.id,
  user_id: row.user_id,
  start_at: row.start_at.toISOString(),
  end_at: row.end_at.toISOString(),
  headcount: row.headcount,
  status: row.status,
  created_at: row.created_at.toISOString(),
  updated_at: row.updated_at.toISOString(),
  confirmed_at: row.confirmed_at?.toISOString() ?? null,
});

const versioned = (row: ReservationRow): Versioned => ({ reservation: toReservation(row), etag: etagOf(row) });

const notFound = () => new AppError("NOT_FOUND", "No such reservation");
const notPending = (detail: string) => new AppError("RESERVATION_NOT_PENDING", detail);

/** A customer only ever sees their own reservations: another's is "not found", never "forbidden". */
function assertVisible(user: User, row: ReservationRow | undefined): asserts row is ReservationRow {
  if (!row || !(user.is_admin || row.user_id === user.id)) throw notFound();
}

/** The INSERT storing the outcome of a keyed write, for its transaction; a reservation body gets its version's ETag. */
function storedOutcome(tx: Tx, key: KeyedRequest | undefined, now: Date, status: number, row?: ReservationRow) {
  if (!key) return undefined;
  const body = row ? tx`${tx.json(toReservation(row))}::jsonb` : tx`NULL::jsonb`;
  const headers = row ? { "Content-Type": "application/json", ETag: etagOf(row) } : {};
  return outcomeInsert(tx, key, now, { status, headers: tx`${tx.json(headers)}::jsonb`, body });
}

/** The statement of a stored outcome, if there is one, for a batch. */
const outcomeStatements = (tx: Tx, outcome: postgres.Fragment | undefined) => outcome ? [tx`${outcome}`] : [];

/**
 * Requests a reservation, in one statement: the caller's row is locked so the pending cap holds under concurrent
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
  // The outcome's body is the new reservation with the id the database assigns.
  const template = toReservation({
    ...booking,
    id: 0,
    user_id: user.id,
    status: "pending",
    created_at: now,
    updated_at: now,
    confirmed_at: null,
    version: 1,
  });
  const outcome = key
    ? sql`, outcome AS (${
      outcomeInsert(sql, key, now, {
        status: 201,
        headers: sql`jsonb_build_object('Content-Type', 'application/json', 'ETag', ${etagSql(sql, "created")})`,
        body: sql`jsonb_set(${sql.json(template)}::jsonb, '{id}', to_jsonb(created.id))`,
        from: sql`FROM created`,
      })
    })`
    : sql``;
  const [row] = await sql<(ReservationRow & CreateVerdict)[]>`
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
      RETURNING *
    ), event AS (${
    eventInsert(sql, {
      action: "created",
      at: now,
      actorId: user.id,
      requestId: write.requestId,
      changes: {
        start_at: [null, template.start_at],
        end_at: [null, template.end_at],
        headcount: [null, booking.headcount],
      },
      reservation: sql`jsonb_set(${sql.json(template)}::jsonb, '{id}', to_jsonb(r.id))`,
    }, sql`FROM created r`)
  })${outcome}
    SELECT created.*, owner.id IS NOT NULL AS owner_exists, owner.pending_count, key.free AS key_free,
      fullest.slot_start AS fullest_start, fullest.confirmed AS fullest_confirmed
    FROM key LEFT JOIN owner ON true LEFT JOIN fullest ON true LEFT JOIN created ON true`.catch(keyTaken);
  if (!row.owner_exists) throw new AppError("UNAUTHENTICATED", "The user no longer exists");
  if (!row.key_free) throw keyInUse();
  if (row.id === null) {
    if (!user.is_admin && row.pending_count >= config.MAX_PENDING_PER_USER) {
      throw new AppError(
        "TOO_MANY_PENDING",
        `You already hold ${config.MAX_PENDING_PER_USER} pending reservations: wait for a confirmation or delete one`,
      );
    }
    const fullest = row.fullest_start
      ? { slot_start: row.fullest_start, confirmed: row.fullest_confirmed! }
      : undefined;
    assertFits(config, booking, fullest);
  }
  return versioned(row);
}

type CreateVerdict = {
  owner_exists: boolean;
  pending_count: number;
  key_free: boolean;
  fullest_start: Date | null;
  fullest_confirmed: number | null;
};

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
    SELECT * FROM reservations
    WHERE (user_id = ${caller.id} OR ${isAdmin})
    ${user_id === undefined ? sql`` : sql`AND (user_id = ${user_id} OR NOT ${isAdmin})`}
    ${status ? sql`AND status = ${status}` : sql``}
    ${overlapping}`;
  const [, rows] = await Promise.all([
    caller.user,
    sql<(ReservationRow & { total: number })[]>`${
      withTotal(sql, matching, sql`ORDER BY created_at DESC, id DESC`, page)
    }`,
  ]);
  return { count: rows[0].total, reservations: rows.filter((row) => row.id !== null).map(toReservation) };
}

/** The caller's row and the reservation are read alongside each other. */
export async function getReservation({ sql }: ServiceDeps, caller: Caller, id: number): Promise<Versioned> {
  const [user, [row]] = await Promise.all([
    caller.user,
    sql<ReservationRow[]>`SELECT * FROM reservations WHERE id = ${id}`,
  ]);
  assertVisible(user, row);
  return versioned(row);
}

type Change<T> = {
  /**
   * The statements of the change, unsent, in order. The first runs `lock` (a statement, or a CTE everything else waits
   * on), which locks the reservation and aborts the transaction if it moved since it was read.
   */
  statements: (tx: Tx, lock: postgres.Fragment) => PromiseLike<unknown>[];
  /** Judges their answers, in the same order, once they are in (throw to roll back), and gives the result. */
  finish: (results: unknown[]) => T;
};

/** The reservation as a change sees it; with a claim of its own window, that window's fullest slot too. */
type Seen = ReservationRow & { fullest: FullestSlot | undefined };
type SeenRow = ReservationRow & { fullest_start: Date | null; fullest_confirmed: number | null };

const seenOf = ({ fullest_start, fullest_confirmed, ...row }: SeenRow): Seen => ({
  ...row,
  fullest: fullest_start ? { slot_start: fullest_start, confirmed: fullest_confirmed! } : undefined,
});

/**
 * One change of one reservation in one transaction, in four round trips: the reservation is read with the caller's
 * user in one statement, then BEGIN, every statement of the change as one pipelined batch that starts by re-locking
 * the row and (with a key) claiming the Idempotency-Key, and COMMIT. The rules are judged on the read, so a refusal
 * costs no transaction. A row that moved between the read and the lock (its version changed:
 * `lock_reservation_version` aborts the batch before any of it applies) is changed again in a transaction whose read
 * is the lock, so contention costs one round trip more and never starves. A change that `claimsOwnWindow` (a
 * confirmation) has its window's fullest slot read there too. Nothing is awaited inside a transaction but its own
 * statements, so a busy pool (or PGlite's one connection) cannot deadlock.
 */
async function changeReservation<T>(
  { sql }: ServiceDeps,
  caller: Caller,
  id: number,
  write: Write,
  plan: (current: Seen, user: User) => Change<T>,
  { claimsOwnWindow = false } = {},
): Promise<T> {
  // Built for the connection that sends it: the first read on the pool, the fallback's in its transaction.
  const fullest = (q: Sql | Tx) =>
    claimsOwnWindow
      ? q`LEFT JOIN LATERAL (${fullestSlot(q, { start_at: q`r.start_at`, end_at: q`r.end_at` })}) f ON true`
      : q`LEFT JOIN (SELECT NULL::timestamptz AS slot_start, NULL::int AS confirmed) f ON true`;
  const [read] = await sql<(SeenRow & { caller: UserJson | null })[]>`
    SELECT ${caller.userQuery(sql)} AS caller, r.*, f.slot_start AS fullest_start, f.confirmed AS fullest_confirmed
    FROM (SELECT) one LEFT JOIN reservations r ON r.id = ${id} ${fullest(sql)}`;
  const user = await caller.settle(read.caller);
  const planned = (current: SeenRow | undefined) => {
    assertVisible(user, current);
    assertIfMatch(write.ifMatch, current);
    return plan(seenOf(current), user);
  };
  const run = async (tx: Tx, change: Change<T>, lock: postgres.Fragment) => {
    const key = write.idempotency && tx<{ free: boolean }[]>`SELECT ${lockKey(tx, write.idempotency)} AS free`;
    const [keyed, ...results] = await Promise.all([key || [{ free: true }], ...change.statements(tx, lock)]);
    if (!keyed[0].free) throw keyInUse();
    return change.finish(results);
  };
  const seen = read.id === null ? undefined : read;
  const change = planned(seen);
  try {
    return await sql.begin((tx) => run(tx, change, tx`SELECT lock_reservation_version(${id}, ${seen!.version})`)) as T;
  } catch (error) {
    if (!isSerializationFailure(error)) keyTaken(error);
  }
  return await sql.begin(async (tx) => {
    const [current] = await tx<SeenRow[]>`
      SELECT r.*, f.slot_start AS fullest_start, f.confirmed AS fullest_confirmed
      FROM reservations r ${fullest(tx)} WHERE r.id = ${id} FOR UPDATE OF r`;
    return await run(tx, planned(current), tx`SELECT`);
  }).catch(keyTaken) as T;
}

/** `{ field: [old, new] }` for every field of the booking that changes. */
function changesOf(current: Hold, next: Hold): Changes {
  const json = (value: Date | number) => value instanceof Date ? value.toISOString() : value;
  const fields = ["start_at", "end_at", "headcount"] as const;
  return Object.fromEntries(
    fields.filter((f) => json(current[f]) !== json(next[f])).map((f) => [f, [json(current[f]), json(next[f])]]),
  );
}

/**
 * Validated as the resulting reservation. A pending one is checked against the counters; a confirmed one (admins
 * only) has its capacity moved under the slot locks, or nothing changes.
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
    const row = { ...current, ...next, updated_at: now, version: current.version + 1 };
    const capacity = (tx: Tx) =>
      current.status === "pending"
        ? [fullestSlot(tx, next)]
        : capacityShift(tx, config, { release: current, claim: next });
    return {
      statements: (tx, lock) => [
        tx`${lock}`,
        tx`
          UPDATE reservations
          SET start_at = ${next.start_at}, end_at = ${next.end_at}, headcount = ${next.headcount},
            updated_at = ${now}, version = ${row.version}
          WHERE id = ${id}`,
        eventInsert(
          tx,
          {
            action: "changed",
            at: now,
            actorId: user.id,
            requestId: write.requestId,
            changes: changesOf(current, next),
            reservation: reservationJson(tx, toReservation(row)),
          },
          knownReservation(tx, current),
        ),
        ...outcomeStatements(tx, storedOutcome(tx, write.idempotency, now, 200, row)),
        ...capacity(tx),
      ],
      finish: (results) => {
        // The answer of the last statement: the fullest slot, or the shifted counters.
        const answer = results.at(-1) as never[];
        if (current.status === "pending") assertFits(config, next, answer[0]);
        else assertShifted(config, next, answer);
        return versioned(row);
      },
    };
  });
}

/** Deleting a confirmed reservation (admins only) releases its slots in the same transaction. */
export async function deleteReservation(deps: ServiceDeps, caller: Caller, id: number, write: Write) {
  const { config, clock } = deps;
  const now = clock();
  await changeReservation(deps, caller, id, write, (current, user) => {
    if (!user.is_admin && current.status !== "pending") {
      throw notPending("A confirmed reservation can only be deleted by an admin");
    }
    return {
      statements: (tx, lock) => [
        tx`${lock}`,
        eventInsert(
          tx,
          {
            action: "deleted",
            at: now,
            actorId: user.id,
            requestId: write.requestId,
            reservation: reservationJson(tx, toReservation(current)),
          },
          knownReservation(tx, current),
        ),
        tx`DELETE FROM reservations WHERE id = ${id}`,
        ...(current.status === "confirmed" ? capacityShift(tx, config, { release: current }) : []),
        ...outcomeStatements(tx, storedOutcome(tx, write.idempotency, now, 204)),
      ],
      finish: () => undefined,
    };
  });
}

/**
 * Confirms a pending reservation whose headcount fits, in one statement: the reservation is locked, confirmed and its
 * event recorded. Its window's slot counters, the contended rows, are claimed at COMMIT by the database (migration
 * 0006), so they are held for as long as a commit takes; a claim that does not fit fails the COMMIT. One that does not
 * fit even on the read is refused there, without a transaction.
 */
export async function confirmReservation(
  deps: ServiceDeps,
  caller: Caller,
  id: number,
  write: Write,
): Promise<Versioned> {
  const { config, clock } = deps;
  const now = clock();
  const confirmation = changeReservation(deps, caller, id, write, (current, user) => {
    if (current.status !== "pending") throw notPending("Only a pending reservation can be confirmed");
    assertBookingOpen(current.start_at, user, now, config.BOOKING_LEAD_DAYS);
    assertFits(config, current, current.fullest);
    const row: ReservationRow = {
      ...current,
      status: "confirmed",
      confirmed_at: now,
      updated_at: now,
      version: current.version + 1,
    };
    return {
      statements: (tx, lock) => {
        const outcome = storedOutcome(tx, write.idempotency, now, 200, row);
        return [tx`
          WITH locked AS MATERIALIZED (${lock}),
          confirmed AS (
            UPDATE reservations
            SET status = 'confirmed', confirmed_at = ${now}, updated_at = ${now}, version = ${row.version}
            FROM locked WHERE id = ${id}
            RETURNING id, user_id
          ),
          event AS (${
          eventInsert(tx, {
            action: "confirmed",
            at: now,
            actorId: user.id,
            requestId: write.requestId,
            changes: { status: ["pending", "confirmed"] },
            reservation: reservationJson(tx, toReservation(row)),
          }, tx`FROM confirmed r`)
        })${outcome ? tx`, outcome AS (${outcome})` : tx``}
          SELECT ${commitClaimLimits(tx, config)} FROM confirmed`];
      },
      finish: () => versioned(row),
    };
  }, { claimsOwnWindow: true });
  return await confirmation.catch((error) => {
    throw commitClaimRefusal(config, error);
  });
}
