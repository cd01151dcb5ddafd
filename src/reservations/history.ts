import type postgres from "postgres";
import type { Deps } from "../deps.ts";
import { AppError } from "../http/problem.ts";
import { type Page, withTotal } from "../http/pagination.ts";
import type { Sql, Tx } from "../platform/db.ts";
import type { Caller } from "../auth/auth.schemas.ts";
import type { AuditFilters, ReservationEvent } from "./history.schemas.ts";
import type { Reservation } from "./reservations.schemas.ts";

export type Action = ReservationEvent["action"];
/** `{ field: [old, new] }`, JSON-ready. */
export type Changes = Record<string, [unknown, unknown]>;

type EventRow = Omit<ReservationEvent, "at"> & { at: Date };
const toEvent = (row: EventRow): ReservationEvent => ({ ...row, at: row.at.toISOString() });

/**
 * The INSERT recording one event per row of `from` (which must name `id` and `user_id` of the reservation), for the
 * transaction of the change itself: a change that rolls back leaves no event. `reservation` is its jsonb as the API
 * shows it after the change (as it was, for a deletion), evaluated per row of `from`.
 */
export function eventInsert(
  sql: Sql | Tx,
  event: {
    action: Action;
    at: Date;
    actorId: number | null;
    requestId: string;
    changes?: Changes;
    reservation: postgres.Fragment;
  },
  from: postgres.Fragment,
) {
  const changes = event.changes ? sql`${sql.json(event.changes as postgres.JSONValue)}::jsonb` : sql`NULL::jsonb`;
  return sql`
    INSERT INTO reservation_events (reservation_id, owner_id, action, at, actor_id, request_id, changes, reservation)
    SELECT r.id, r.user_id, ${event.action}, ${event.at}, ${event.actorId}, ${event.requestId}, ${changes},
      ${event.reservation}
    ${from}`;
}

/** `reservation` for an event of one reservation whose API view is known. */
export const reservationJson = (sql: Sql | Tx, reservation: Reservation) => sql`${sql.json(reservation)}::jsonb`;

/** `from` for a reservation whose id and owner are known. */
export const knownReservation = (sql: Sql | Tx, reservation: { id: number; user_id: number }) =>
  sql`FROM (VALUES (${reservation.id}::int, ${reservation.user_id}::int)) r (id, user_id)`;

const eventColumns = (sql: Sql) => sql`id::int, reservation_id, action, at, actor_id, request_id, changes`;

/** Oldest first; the owner's or an admin's, deleted reservations included; 404 for anyone else. */
export async function reservationHistory({ sql }: Pick<Deps, "sql">, caller: Caller, id: number) {
  const [user, rows] = await Promise.all([
    caller.user,
    sql<(EventRow & { owner_id: number })[]>`
      SELECT ${eventColumns(sql)}, owner_id FROM reservation_events WHERE reservation_id = ${id} ORDER BY id`,
  ]);
  if (rows.length === 0 || !(user.is_admin || rows[0].owner_id === user.id)) {
    throw new AppError("NOT_FOUND", "No such reservation");
  }
  return rows.map(({ owner_id: _, ...row }) => toEvent(row));
}

/** Every event, newest first, for admins; filters on reservation, actor, action and `[from, to)` of `at`. */
export async function auditEvents({ sql }: Pick<Deps, "sql">, _admin: Caller, filters: AuditFilters, page: Page) {
  const { reservation_id, actor_id, action, from, to } = filters;
  const rows = await sql<(EventRow & { total: number })[]>`${
    withTotal(
      sql,
      sql`
        SELECT ${eventColumns(sql)} FROM reservation_events
        WHERE true
        ${reservation_id === undefined ? sql`` : sql`AND reservation_id = ${reservation_id}`}
        ${actor_id === undefined ? sql`` : sql`AND actor_id = ${actor_id}`}
        ${action === undefined ? sql`` : sql`AND action = ${action}`}
        ${from === undefined ? sql`` : sql`AND at >= ${from}`}
        ${to === undefined ? sql`` : sql`AND at < ${to}`}`,
      sql`ORDER BY at DESC, id DESC`,
      page,
    )
  }`;
  return {
    count: rows[0].total,
    events: rows.filter((row) => row.id !== null).map(({ total: _, ...row }) => toEvent(row)),
  };
}
