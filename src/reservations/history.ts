import type postgres from "postgres";
import type { Deps } from "../deps.ts";
import { AppError } from "../http/problem.ts";
import { type Page, withTotal } from "../http/pagination.ts";
import type { Sql, Tx } from "../platform/db.ts";
import type { Caller } from "../auth/auth.schemas.ts";
import type { AuditFilters, HistoryPage, ReservationEvent } from "./history.schemas.ts";

export type Action = ReservationEvent["action"];
/** `{ field: [old, new] }`, JSON-ready. */
export type Changes = Record<string, [unknown, unknown]>;

type EventRow = Omit<ReservationEvent, "at"> & { at: Date };
const toEvent = (row: EventRow): ReservationEvent => ({ ...row, at: row.at.toISOString() });

/**
 * The INSERT recording one event per reservation of `rows` (a relation of `written` reservations, e.g. a
 * data-modifying CTE's `RETURNING ${written(tx, tx`r`)}`), for the transaction of the change itself: a change that
 * rolls back leaves no event. Each event keeps the reservation as the API shows it, the body `written` built.
 */
export function eventInsert(
  sql: Sql | Tx,
  event: { action: Action; at: Date; actorId: number | null; requestId: string; changes?: Changes },
  rows: postgres.Fragment,
) {
  const changes = event.changes ? sql`${sql.json(event.changes as postgres.JSONValue)}::jsonb` : sql`NULL::jsonb`;
  return sql`
    INSERT INTO reservation_events (reservation_id, owner_id, action, at, actor_id, request_id, changes, reservation)
    SELECT (c.row).id, (c.row).user_id, ${event.action}, ${event.at}, ${event.actorId}, ${event.requestId}, ${changes},
      c.body::jsonb
    FROM ${rows} c`;
}

const eventColumns = (sql: Sql) => sql`id::int, reservation_id, action, at, actor_id, request_id, changes`;

/**
 * A page of a reservation's events, oldest first, and whether more follow; the owner's or an admin's, deleted
 * reservations included; 404 for anyone else. The owner is read from the first event, so a page past the end is
 * empty rather than missing.
 */
export async function reservationHistory(
  { sql }: Pick<Deps, "sql">,
  caller: Caller,
  id: number,
  { page_size, after = 0 }: HistoryPage,
) {
  const [user, rows] = await Promise.all([
    caller.user,
    sql<(EventRow & { owner_id: number })[]>`
      SELECT o.owner_id, e.* FROM (
        SELECT owner_id FROM reservation_events WHERE reservation_id = ${id} ORDER BY id LIMIT 1
      ) o LEFT JOIN LATERAL (
        SELECT ${eventColumns(sql)} FROM reservation_events
        WHERE reservation_id = ${id} AND id > ${after} ORDER BY id LIMIT ${page_size + 1}
      ) e ON true
      ORDER BY e.id`,
  ]);
  if (rows.length === 0 || !(user.is_admin || rows[0].owner_id === user.id)) {
    throw new AppError("NOT_FOUND", "No such reservation");
  }
  const events = rows.filter((row) => row.id !== null).map(({ owner_id: _, ...row }) => toEvent(row));
  return { events: events.slice(0, page_size), more: events.length > page_size };
}

/**
 * A reservation keeps at most MAX_EVENTS_PER_RESERVATION events, the last place kept for its end (`deleted` or
 * `released`), so deleting always works. Its version counts its events: it is created at version 1 with its
 * `created` event, and every change bumps it and records one, in the transaction that locks the row at the version
 * it read, so the count is exact under concurrency.
 */
export function assertRoomForChange(config: { MAX_EVENTS_PER_RESERVATION: number }, reservation: { version: number }) {
  const most = config.MAX_EVENTS_PER_RESERVATION;
  if (reservation.version + 1 >= most) {
    throw new AppError(
      "TOO_MANY_CHANGES",
      `This reservation has had the most changes it may have (its history holds ${most} events at most); ` +
        "delete it and book again",
    );
  }
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
