import type postgres from "postgres";
import type { Config } from "../config.ts";
import { isCheckViolation, type Sql, type Tx } from "../platform/db.ts";
import { AppError } from "../http/problem.ts";
import { minuteMs } from "../platform/clock.ts";

/** `[start_at, end_at)`, covering every slot that starts inside it. */
export type Window = { start_at: Date; end_at: Date };
/** A number of examinees over a window: what a reservation claims once confirmed. */
export type Hold = Window & { headcount: number };

type CapacityConfig = Pick<Config, "MAX_CONCURRENT_EXAMINEES" | "SLOT_MINUTES">;

export type SlotUsage = Window & { capacity: number; confirmed: number; remaining: number };

/** A slot whose counter is not the sum of the confirmed reservations covering it, or is over capacity. */
export type Drift = { slot_start: Date; counted: number; expected: number };

const slotStep = (sql: Sql | Tx, slotMinutes: number) => sql`make_interval(mins => ${slotMinutes}::int)`;

/** Slots are aligned to UTC midnight; as SLOT_MINUTES divides 1440, that is alignment to the epoch. */
export function isSlotBoundary(instant: Date, slotMinutes: number): boolean {
  return instant.getTime() % (slotMinutes * minuteMs) === 0;
}

/** The start of every slot of the window. */
export function slotStarts(window: Window, slotMinutes: number): Date[] {
  const step = slotMinutes * minuteMs;
  const starts = [];
  for (let at = window.start_at.getTime(); at < window.end_at.getTime(); at += step) starts.push(new Date(at));
  return starts;
}

/** Every slot of the window with its confirmed headcount; a slot without a counter row is empty. */
export async function slotUsage(sql: Sql, config: CapacityConfig, window: Window): Promise<SlotUsage[]> {
  const step = slotStep(sql, config.SLOT_MINUTES);
  // The planner guesses 1,000 rows for generate_series and would hash every counter row ever created; the
  // range on slot_start lets it read just the window off the primary key, whatever the table's size.
  const rows = await sql<{ start_at: Date; end_at: Date; confirmed: number }[]>`
    SELECT s AS start_at, s + ${step} AS end_at, coalesce(u.confirmed, 0) AS confirmed
    FROM generate_series(${window.start_at}::timestamptz, ${window.end_at}::timestamptz - ${step}, ${step}) s
    LEFT JOIN slot_usage u ON u.slot_start = s AND u.slot_start >= ${window.start_at} AND u.slot_start < ${window.end_at}
    ORDER BY s`;
  const capacity = config.MAX_CONCURRENT_EXAMINEES;
  return rows.map((row) => ({ ...row, capacity, remaining: capacity - row.confirmed }));
}

export type FullestSlot = { slot_start: Date; confirmed: number };

/** Window bounds as values, or as columns of the statement the read goes into. */
type Bounds = { start_at: Date | postgres.Fragment; end_at: Date | postgres.Fragment };

/** The fullest slot of a hold's window, read without locking: send it in a batch, then judge it with `assertFits`. */
export const fullestSlot = (sql: Sql | Tx, hold: Bounds) =>
  sql<FullestSlot[]>`
    SELECT slot_start, confirmed FROM slot_usage
    WHERE slot_start >= ${hold.start_at} AND slot_start < ${hold.end_at}
    ORDER BY confirmed DESC, slot_start
    LIMIT 1`;

/** Refuses a hold larger than the remaining confirmed capacity of its fullest slot (none: an empty window). */
export function assertFits(config: CapacityConfig, hold: Hold, fullest: FullestSlot | undefined): void {
  const confirmed = fullest?.confirmed ?? 0;
  if (hold.headcount > config.MAX_CONCURRENT_EXAMINEES - confirmed) {
    throw capacityExceeded(config, fullest?.slot_start ?? hold.start_at, confirmed, hold.headcount);
  }
}

/**
 * The limits the database keeps the counters against (definitions/20_capacity.sql), stored from the configuration
 * at start-up: whoever then writes a reservation, a task or psql, is held to the same capacity and slots.
 */
export async function storeCapacityLimits(sql: Sql, config: CapacityConfig): Promise<void> {
  await sql`SELECT store_capacity_limits(${config.MAX_CONCURRENT_EXAMINEES}, ${config.SLOT_MINUTES})`;
}

/** CAPACITY_EXCEEDED for a COMMIT whose claim did not fit (its DETAIL names the slot); any other error as it is. */
export function capacityRefusal(config: CapacityConfig, error: unknown): unknown {
  if (!isCheckViolation(error, "slot_usage_within_capacity") || !error.detail) return error;
  const { slot_start, confirmed, headcount } = JSON.parse(error.detail);
  return capacityExceeded(config, new Date(slot_start), confirmed, headcount);
}

/** Slots whose counter disagrees with the confirmed reservations, or exceeds capacity: empty when sound. */
export async function capacityDrift(sql: Sql, config: CapacityConfig): Promise<Drift[]> {
  const step = slotStep(sql, config.SLOT_MINUTES);
  const drift = await sql<Drift[]>`
    WITH expected AS (
      SELECT s AS slot_start, sum(r.headcount)::int AS confirmed
      FROM reservations r, generate_series(r.start_at, r.end_at - ${step}, ${step}) s
      WHERE r.status = 'confirmed'
      GROUP BY s
    )
    SELECT slot_start, coalesce(u.confirmed, 0) AS counted, coalesce(e.confirmed, 0) AS expected
    FROM slot_usage u FULL JOIN expected e USING (slot_start)
    WHERE coalesce(u.confirmed, 0) <> coalesce(e.confirmed, 0)
       OR coalesce(u.confirmed, 0) > ${config.MAX_CONCURRENT_EXAMINEES}
    ORDER BY slot_start`;
  return [...drift];
}

function capacityExceeded(config: CapacityConfig, slotStart: Date, confirmed: number, headcount: number) {
  const slotEnd = new Date(slotStart.getTime() + config.SLOT_MINUTES * minuteMs);
  const remaining = config.MAX_CONCURRENT_EXAMINEES - confirmed;
  return new AppError(
    "CAPACITY_EXCEEDED",
    `${headcount} examinees do not fit: the slot ${slotStart.toISOString()}–${slotEnd.toISOString()} has ` +
      `${remaining} of ${config.MAX_CONCURRENT_EXAMINEES} places left`,
  );
}

/** Users whose pending count disagrees with their pending reservations: empty when sound. */
export async function pendingDrift(sql: Sql): Promise<{ user_id: number; counted: number; expected: number }[]> {
  return [
    ...await sql<{ user_id: number; counted: number; expected: number }[]>`
      SELECT u.id AS user_id, u.pending_count AS counted, count(r.id)::int AS expected
      FROM users u LEFT JOIN reservations r ON r.user_id = u.id AND r.status = 'pending'
      GROUP BY u.id
      HAVING u.pending_count <> count(r.id)
      ORDER BY u.id`,
  ];
}
