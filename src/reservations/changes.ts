import type postgres from "postgres";
import type { Sql, Tx } from "../platform/db.ts";
import type { Caller, User, UserJson } from "../auth/auth.schemas.ts";
import { type KeyedRequest, keyInUse, keyTaken, lockKey } from "../idempotency/idempotency.service.ts";
import type { Config } from "../config.ts";
import { assertFits, capacityRefusal, type FullestSlot, fullestSlot, type Hold } from "./capacity.ts";
import { assertBookingOpen, assertValidBooking } from "./rules.ts";
import { assertIfMatch } from "./etag.ts";
import { assertRoomForChange, type Changes, eventInsert } from "./history.ts";

import {
  assertVisible,
  type FullestColumns,
  fullestOf,
  notPending,
  outcomeCte,
  type ReservationRow,
  type ServiceDeps,
  type Shown,
  type Versioned,
  versioned,
  type Write,
  written,
} from "./reservation.ts";

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
  // The reservation is read only for a caller the route admits (`Caller.admits`): for anyone else, the session read.
  const [read] = await sql<(SeenRow & { caller: UserJson | null })[]>`
    SELECT c.caller, seen.* FROM (SELECT ${caller.userQuery(sql)} AS caller) c LEFT JOIN LATERAL (
      SELECT ${seen(sql)} WHERE r.id = ${id} AND ${caller.admits(sql, sql`c.caller`)}
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
  action: "changed" | "confirmed" | "rejected" | "deleted",
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
    if (current.status === "rejected") throw notPending("A rejected reservation cannot be changed; delete it");
    if (!user.is_admin && current.status !== "pending") {
      throw notPending("A confirmed reservation can only be changed by an admin");
    }
    assertRoomForChange(config, current);
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
            RETURNING ${written(tx, tx`r`)}
          ), event AS (${eventInsert(tx, event, tx`changed`)}),
          fullest AS (${fullestSlot(tx, next)})${outcomeCte(tx, write.idempotency, now, 200, tx`changed`)}
          SELECT ${verdict(tx)}, changed.body, changed.etag,
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

/** Its owner may delete a pending or rejected one; deleting a confirmed one (admins only) releases its slots at COMMIT. */
export async function deleteReservation(deps: ServiceDeps, caller: Caller, id: number, write: Write) {
  const now = deps.clock();
  await changeReservation(deps, caller, id, write, (current, user) => {
    if (!user.is_admin && current.status === "confirmed") {
      throw notPending("A confirmed reservation can only be deleted by an admin");
    }
    return {
      statement: (tx, head) =>
        tx<Verdict[]>`
          WITH ${head}, deleted AS (
            DELETE FROM reservations r USING target WHERE r.id = target.id
            RETURNING ${written(tx, tx`r`)}
          ), event AS (${eventInsert(tx, eventOf(user, write, now, "deleted"), tx`deleted`)})${
          outcomeCte(tx, write.idempotency, now, 204, tx`deleted`)
        }
          SELECT ${verdict(tx)} FROM key`,
      result: () => undefined,
    };
  });
}

/** A reservation may be confirmed only while pending, with room in its history, and not once its window started. */
export function assertConfirmable(
  current: Pick<ReservationRow, "status" | "start_at" | "version">,
  user: User,
  now: Date,
  config: Config,
) {
  if (current.status !== "pending") throw notPending("Only a pending reservation can be confirmed");
  assertRoomForChange(config, current);
  assertBookingOpen(current.start_at, user, now, config.BOOKING_LEAD_DAYS);
}

export const confirmedEvent = (user: User, write: Write, now: Date) =>
  eventOf(user, write, now, "confirmed", { status: ["pending", "confirmed"] });

/** The UPDATE that confirms the reservations of `target` (a relation of ids), as a CTE body. */
export const confirming = (tx: Tx, now: Date, target: postgres.Fragment) =>
  tx`
    UPDATE reservations r
    SET status = 'confirmed', confirmed_at = ${now}, updated_at = ${now}, version = r.version + 1
    FROM ${target} WHERE r.id = target.id
    RETURNING ${written(tx, tx`r`)}`;

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
    assertConfirmable(current, user, now, config);
    assertFits(config, current, current.fullest);
    return {
      statement: (tx, head) =>
        tx<(Shown & Verdict)[]>`
          WITH ${head}, confirmed AS (${confirming(tx, now, tx`target`)}),
          event AS (${eventInsert(tx, confirmedEvent(user, write, now), tx`confirmed`)})${
          outcomeCte(tx, write.idempotency, now, 200, tx`confirmed`)
        }
          SELECT ${verdict(tx)}, confirmed.body, confirmed.etag FROM key LEFT JOIN confirmed ON true`,
      result: versioned,
    };
  }, { claimsOwnWindow: true });
}

/** Rejects a pending reservation with a reason: it then holds no capacity and no place in its owner's pending count. */
export function rejectReservation(
  deps: ServiceDeps,
  caller: Caller,
  id: number,
  reason: string,
  write: Write,
): Promise<Versioned> {
  const { config, clock } = deps;
  const now = clock();
  return changeReservation(deps, caller, id, write, (current, user) => {
    if (current.status !== "pending") throw notPending("Only a pending reservation can be rejected");
    assertRoomForChange(config, current);
    const event = eventOf(user, write, now, "rejected", {
      status: ["pending", "rejected"],
      reject_reason: [null, reason],
    });
    return {
      statement: (tx, head) =>
        tx<(Shown & Verdict)[]>`
          WITH ${head}, rejected AS (
            UPDATE reservations r
            SET status = 'rejected', rejected_at = ${now}, reject_reason = ${reason}, updated_at = ${now},
              version = r.version + 1
            FROM target WHERE r.id = target.id
            RETURNING ${written(tx, tx`r`)}
          ), event AS (${eventInsert(tx, event, tx`rejected`)})${
          outcomeCte(tx, write.idempotency, now, 200, tx`rejected`)
        }
          SELECT ${verdict(tx)}, rejected.body, rejected.etag FROM key LEFT JOIN rejected ON true`,
      result: versioned,
    };
  });
}
