import type { Deps } from "../deps.ts";
import { isForeignKeyViolation, type Sql, type Tx } from "../platform/db.ts";
import type { Caller } from "../auth/auth.schemas.ts";
import { AppError } from "../http/problem.ts";
import { offsetOf, type Page } from "../http/pagination.ts";
import { assertFits, type Hold, shiftCapacity } from "./capacity.ts";
import { assertBookingOpen, assertValidBooking } from "./rules.ts";
import type { Reservation, ReservationFilters, ReservationStatus } from "./reservations.schemas.ts";

type ServiceDeps = Pick<Deps, "sql" | "config" | "clock">;

type ReservationRow = Hold & {
  id: number;
  user_id: number;
  status: ReservationStatus;
  created_at: Date;
  updated_at: Date;
  confirmed_at: Date | null;
};

const toReservation = (row: ReservationRow): Reservation => ({
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

const notFound = () => new AppError("NOT_FOUND", "No such reservation");
const notPending = (detail: string) => new AppError("RESERVATION_NOT_PENDING", detail);

/** A customer only ever sees their own reservations: another's is "not found", never "forbidden". */
async function findVisible(sql: Sql | Tx, caller: Caller, id: number, { forUpdate = false } = {}) {
  const [row] = await sql<ReservationRow[]>`
    SELECT * FROM reservations
    WHERE id = ${id} ${caller.is_admin ? sql`` : sql`AND user_id = ${caller.id}`}
    ${forUpdate ? sql`FOR UPDATE` : sql``}`;
  if (!row) throw notFound();
  return row;
}

export async function createReservation({ sql, config, clock }: ServiceDeps, caller: Caller, booking: Hold) {
  const now = clock();
  assertValidBooking(booking, config);
  assertBookingOpen(booking.start_at, caller, now, config.BOOKING_LEAD_DAYS);
  await assertFits(sql, config, booking);
  const [row] = await sql<ReservationRow[]>`
    INSERT INTO reservations (user_id, start_at, end_at, headcount, created_at, updated_at)
    VALUES (${caller.id}, ${booking.start_at}, ${booking.end_at}, ${booking.headcount}, ${now}, ${now})
    RETURNING *`.catch((error) => {
    // The caller's account was deleted while this request was in flight: their token no longer stands.
    if (isForeignKeyViolation(error)) throw new AppError("UNAUTHENTICATED", "The user no longer exists");
    throw error;
  });
  return toReservation(row);
}

/** Newest first; a customer's `user_id` filter is replaced by their own id. */
export async function listReservations({ sql }: ServiceDeps, caller: Caller, filters: ReservationFilters, page: Page) {
  const owner = caller.is_admin ? filters.user_id : caller.id;
  const { status, from = null, to = null } = filters;
  // Overlap with [from, to), either end open; tstzrange(start_at, end_at) is what the gist index covers.
  const overlapping = from || to
    ? sql`AND tstzrange(start_at, end_at) && tstzrange(${from}::timestamptz, ${to}::timestamptz)`
    : sql``;
  const where = sql`
    WHERE true
    ${owner === undefined ? sql`` : sql`AND user_id = ${owner}`}
    ${status ? sql`AND status = ${status}` : sql``}
    ${overlapping}`;
  const [{ count }] = await sql<{ count: number }[]>`SELECT count(*)::int AS count FROM reservations ${where}`;
  const rows = await sql<ReservationRow[]>`
    SELECT * FROM reservations ${where}
    ORDER BY created_at DESC, id DESC LIMIT ${page.page_size} OFFSET ${offsetOf(page)}`;
  return { count, reservations: rows.map(toReservation) };
}

export async function getReservation({ sql }: ServiceDeps, caller: Caller, id: number) {
  return toReservation(await findVisible(sql, caller, id));
}

/**
 * Validated as the resulting reservation. A pending one is checked against the counters up front; a
 * confirmed one (admins only) has its capacity moved under the slot locks, or nothing changes.
 */
export async function updateReservation(
  { sql, config, clock }: ServiceDeps,
  caller: Caller,
  id: number,
  changes: Partial<Hold>,
) {
  const now = clock();
  return await sql.begin(async (tx) => {
    const current = await findVisible(tx, caller, id, { forUpdate: true });
    if (!caller.is_admin && current.status !== "pending") {
      throw notPending("A confirmed reservation can only be changed by an admin");
    }
    const next: Hold = {
      start_at: changes.start_at ?? current.start_at,
      end_at: changes.end_at ?? current.end_at,
      headcount: changes.headcount ?? current.headcount,
    };
    assertValidBooking(next, config);
    for (const startAt of [current.start_at, next.start_at]) {
      assertBookingOpen(startAt, caller, now, config.BOOKING_LEAD_DAYS);
    }
    if (current.status === "pending") await assertFits(tx, config, next);
    const [row] = await tx<ReservationRow[]>`
      UPDATE reservations
      SET start_at = ${next.start_at}, end_at = ${next.end_at}, headcount = ${next.headcount}, updated_at = ${now}
      WHERE id = ${id}
      RETURNING *`;
    if (current.status === "confirmed") await shiftCapacity(tx, config, { release: current, claim: next });
    return toReservation(row);
  });
}

/** Deleting a confirmed reservation (admins only) releases its slots in the same transaction. */
export async function deleteReservation({ sql, config }: ServiceDeps, caller: Caller, id: number) {
  await sql.begin(async (tx) => {
    const current = await findVisible(tx, caller, id, { forUpdate: true });
    if (!caller.is_admin && current.status !== "pending") {
      throw notPending("A confirmed reservation can only be deleted by an admin");
    }
    await tx`DELETE FROM reservations WHERE id = ${id}`;
    if (current.status === "confirmed") await shiftCapacity(tx, config, { release: current });
  });
}

/** Locks the reservation, then its slots in order; re-checks capacity there and adds the headcount. */
export async function confirmReservation({ sql, config, clock }: ServiceDeps, caller: Caller, id: number) {
  const now = clock();
  return await sql.begin(async (tx) => {
    const current = await findVisible(tx, caller, id, { forUpdate: true });
    if (current.status !== "pending") throw notPending("Only a pending reservation can be confirmed");
    assertBookingOpen(current.start_at, caller, now, config.BOOKING_LEAD_DAYS);
    const [row] = await tx<ReservationRow[]>`
      UPDATE reservations SET status = 'confirmed', confirmed_at = ${now}, updated_at = ${now}
      WHERE id = ${id}
      RETURNING *`;
    // The slot rows are the contended locks: taken last, they are held for one statement and the commit.
    await shiftCapacity(tx, config, { claim: current });
    return toReservation(row);
  });
}
