import type { Sql } from "../platform/db.ts";
import { AppError, fieldErrors } from "../http/problem.ts";
import { DatabaseId } from "../http/schemas.ts";
import { type Page, withTotal } from "../http/pagination.ts";
import type { Caller, User } from "../auth/auth.schemas.ts";
import { keyInUse, keyTaken, lockKey } from "../idempotency/idempotency.service.ts";
import { assertFits, fullestSlot, type Hold } from "./capacity.ts";
import { assertBookingOpen, assertValidBooking } from "./rules.ts";
import { eventInsert } from "./history.ts";
import type { ReservationFilters, ReservationOrdering } from "./reservations.schemas.ts";

import {
  assertVisible,
  type FullestColumns,
  fullestOf,
  outcomeCte,
  type ServiceDeps,
  type Shown,
  shown,
  type Versioned,
  versioned,
  type Write,
  written,
} from "./reservation.ts";

/**
 * Requests a reservation, in one statement: the owner's row is locked so the pending cap holds under concurrent
 * requests, and the reservation is inserted only when the cap, the remaining capacity and the Idempotency-Key
 * (if any) allow it; its `created` event and stored outcome go in with it. An admin may book for a customer
 * (`user_id`), under that customer's cap; an admin's own bookings are not capped.
 */
export async function createReservation(
  deps: ServiceDeps,
  caller: Caller,
  booking: Hold & { user_id?: unknown },
  write: Write,
) {
  const { sql, config, clock } = deps;
  const now = clock();
  assertValidBooking(booking, config);
  const user = await caller.user;
  assertBookingOpen(booking.start_at, user, now, config.BOOKING_LEAD_DAYS);
  const ownerId = bookingOwner(user, booking.user_id);
  const key = write.idempotency;
  const iso = (instant: Date) => instant.toISOString();
  const [row] = await sql<(Shown & CreateVerdict)[]>`
    WITH owner AS MATERIALIZED (
      SELECT id, is_admin, pending_count FROM users WHERE id = ${ownerId} FOR NO KEY UPDATE
    ), key AS MATERIALIZED (
      SELECT ${key ? lockKey(sql, key) : sql`true`} AS free
    ), fullest AS (${fullestSlot(sql, booking)}), created AS (
      INSERT INTO reservations (user_id, start_at, end_at, headcount, created_at, updated_at)
      SELECT owner.id, ${booking.start_at}, ${booking.end_at}, ${booking.headcount}, ${now}, ${now} FROM owner, key
      WHERE key.free
        AND (owner.is_admin OR owner.pending_count < ${config.MAX_PENDING_PER_USER})
        AND ${booking.headcount} <= ${config.MAX_CONCURRENT_EXAMINEES} - coalesce((SELECT confirmed FROM fullest), 0)
      RETURNING ${written(sql, sql`reservations`)}
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
    SELECT created.body, created.etag, owner.id IS NOT NULL AS owner_exists, owner.is_admin AS owner_is_admin,
      owner.pending_count, key.free AS key_free, fullest.slot_start AS fullest_start,
      fullest.confirmed AS fullest_confirmed
    FROM key LEFT JOIN owner ON true LEFT JOIN fullest ON true LEFT JOIN created ON true`.catch(keyTaken);
  if (!row.owner_exists) {
    throw ownerId === user.id
      ? new AppError("UNAUTHENTICATED", "The user no longer exists")
      : new AppError("NOT_FOUND", "No such user");
  }
  if (!row.key_free) throw keyInUse();
  if (row.body === null) {
    if (!row.owner_is_admin && row.pending_count >= config.MAX_PENDING_PER_USER) {
      const holder = ownerId === user.id ? "You already hold" : `User ${ownerId} already holds`;
      throw new AppError(
        "TOO_MANY_PENDING",
        `${holder} ${config.MAX_PENDING_PER_USER} pending reservations: wait for a confirmation or delete one`,
      );
    }
    assertFits(config, booking, fullestOf(row));
  }
  return versioned(row);
}

/** Whose a booking is: an admin's `user_id` names a customer (an id, else 400); anyone else books for themselves. */
function bookingOwner(user: User, userId: unknown): number {
  if (!user.is_admin || userId === undefined) return user.id;
  const owner = DatabaseId.safeParse(userId);
  if (!owner.success) throw fieldErrors([{ path: "user_id", message: owner.error.issues[0].message }]);
  return owner.data;
}

type CreateVerdict = FullestColumns & {
  owner_exists: boolean;
  owner_is_admin: boolean;
  pending_count: number;
  key_free: boolean;
};

const orderings: Record<ReservationOrdering, [column: string, direction: "" | " DESC"]> = {
  "created_at": ["created_at", ""],
  "-created_at": ["created_at", " DESC"],
  "start_at": ["start_at", ""],
  "-start_at": ["start_at", " DESC"],
};

/**
 * `ORDER BY` the ordering a list or an export asked for, ties by id in the same direction; over the columns of
 * `table` when named.
 */
export function orderBy(sql: Sql, ordering: ReservationOrdering, table?: string) {
  const [column, direction] = orderings[ordering];
  const of = table ? `${table}.` : "";
  return sql`ORDER BY ${sql.unsafe(`${of}${column}${direction}, ${of}id${direction}`)}`;
}

/**
 * The reservations (`r`) matching the filters that the caller may see: a customer's own (their `user_id` filter is
 * replaced by their own id), an admin's all. The caller's role is read inside the statement, so the read does not
 * wait for the caller's row.
 */
export function visibleMatching(sql: Sql, caller: Caller, { status, user_id, from, to }: ReservationFilters) {
  const isAdmin = sql`coalesce((SELECT is_admin FROM users WHERE id = ${caller.id}), false)`;
  // Overlap with [from, to), either end open; tstzrange(start_at, end_at) is what the gist index covers.
  const overlapping = from || to
    ? sql`AND tstzrange(r.start_at, r.end_at) && tstzrange(${from ?? null}::timestamptz, ${to ?? null}::timestamptz)`
    : sql``;
  return sql`
    (r.user_id = ${caller.id} OR ${isAdmin})
    ${user_id === undefined ? sql`` : sql`AND (r.user_id = ${user_id} OR NOT ${isAdmin})`}
    ${status ? sql`AND r.status = ${status}` : sql``}
    ${overlapping}`;
}

/** A page of the reservations the caller may see, in the asked ordering; the total comes in the same statement. */
export async function listReservations({ sql }: ServiceDeps, caller: Caller, filters: ReservationFilters, page: Page) {
  const matching = sql`
    SELECT r AS row, r.id, r.created_at, r.start_at FROM reservations r WHERE ${visibleMatching(sql, caller, filters)}`;
  const [, rows] = await Promise.all([
    caller.user,
    sql<(Shown & { id: number | null; total: number })[]>`${
      withTotal(sql, matching, orderBy(sql, filters.ordering), page, sql`p.id, ${shown(sql, sql`p.row`)}`)
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
