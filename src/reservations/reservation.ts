import type postgres from "postgres";
import type { Deps } from "../deps.ts";
import type { Sql, Tx } from "../platform/db.ts";
import { AppError } from "../http/problem.ts";
import type { User } from "../auth/auth.schemas.ts";
import { type KeyedRequest, outcomeInsert } from "../idempotency/idempotency.service.ts";
import type { FullestSlot, Hold } from "./capacity.ts";
import type { Reservation, ReservationStatus } from "./reservations.schemas.ts";

export type ServiceDeps = Pick<Deps, "sql" | "config" | "clock">;

/** What a write knows of its request besides the caller: for history, ETags and safe retries. */
export type Write = { requestId: string; ifMatch?: string; idempotency?: KeyedRequest };

/** The columns of a reservation the rules read. */
export type ReservationRow = Hold & { id: number; user_id: number; status: ReservationStatus; version: number };

/** A reservation as responses show it, with the ETag of its version. */
export type Versioned = { reservation: Reservation; etag: string };

/**
 * The reservation as the API shows it and its ETag, as named columns of a statement: built by the database
 * (`reservation_json`, `reservation_etag`), the one builder for responses, stored outcomes and events alike.
 * `row` is a whole `reservations` row; NULL when there is none.
 */
export const shown = (sql: Sql | Tx, row: postgres.Fragment) =>
  sql`reservation_json(${row}) AS body, reservation_etag(${row}) AS etag`;

export type Shown = { body: Reservation | null; etag: string | null };

/**
 * What a write returns of each reservation it wrote (`RETURNING`): the row, and its body and ETag built once, for the
 * response, the event's snapshot (`eventInsert`) and the stored outcome (`reservationOutcome`) alike.
 */
export const written = (sql: Sql | Tx, row: postgres.Fragment) => sql`${row} AS row, ${shown(sql, row)}`;

export const versioned = ({ body, etag }: Shown): Versioned => ({ reservation: body!, etag: etag! });

export const notFound = () => new AppError("NOT_FOUND", "No such reservation");
export const notPending = (detail: string) => new AppError("RESERVATION_NOT_PENDING", detail);

/** A customer only ever sees their own reservations: another's is "not found", never "forbidden". */
export function assertVisible<T extends { user_id: number }>(user: User, row: T | undefined): asserts row is T {
  if (!row || !(user.is_admin || row.user_id === user.id)) throw notFound();
}

/**
 * The INSERT storing the outcome of a keyed write of a reservation, built from `rows` (a relation of `written`
 * reservations, as for `eventInsert`): its body and ETag are the response's. With `status` 204, no body.
 */
export function reservationOutcome(
  tx: Tx | Sql,
  key: KeyedRequest,
  now: Date,
  status: number,
  rows: postgres.Fragment,
) {
  const withBody = status !== 204;
  return outcomeInsert(tx, key, now, {
    status,
    headers: withBody ? tx`jsonb_build_object('Content-Type', 'application/json', 'ETag', c.etag)` : tx`'{}'::jsonb`,
    body: withBody ? tx`c.body::jsonb` : tx`NULL::jsonb`,
    from: tx`FROM ${rows} c`,
  });
}

/** `, outcome AS (…)` for a keyed write; nothing without a key. */
export const outcomeCte = (
  tx: Tx | Sql,
  key: KeyedRequest | undefined,
  now: Date,
  status: number,
  rows: postgres.Fragment,
) => key ? tx`, outcome AS (${reservationOutcome(tx, key, now, status, rows)})` : tx``;

/** The fullest slot a statement read, as its named columns `fullest_start` and `fullest_confirmed` give it. */
export type FullestColumns = { fullest_start: Date | null; fullest_confirmed: number | null };
export const fullestOf = ({ fullest_start, fullest_confirmed }: FullestColumns): FullestSlot | undefined =>
  fullest_start ? { slot_start: fullest_start, confirmed: fullest_confirmed! } : undefined;
