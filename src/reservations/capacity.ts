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

type SlotChange = { slot_start: Date; confirmed: number; delta: number; applied: boolean };

const slotStep = (sql: Sql | Tx, slotMinutes: number) => sql`make_interval(mins => ${slotMinutes}::int)`;

/** Slots are aligned to UTC midnight; as SLOT_MINUTES divides 1440, that is alignment to the epoch. */
export function isSlotBoundary(instant: Date, slotMinutes: number): boolean {
  return instant.getTime() % (slotMinutes * minuteMs) === 0;
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
 * The statements that move confirmed capacity in the caller's transaction: give back `release`, take `claim`
 * (either may be absent). Unsent, so the caller pipelines them after the reservation's own lock; the slot rows are
 * locked in slot order, and the counters change only if every claimed slot keeps within capacity. Judge the last
 * one's rows with `assertShifted`: when the claim does not fit the transaction must roll back.
 */
export function capacityShift(tx: Tx, config: CapacityConfig, { claim, release }: { claim?: Hold; release?: Hold }) {
  const changes = applyChanges(
    tx,
    config,
    tx`
      SELECT slot_start, ${claim?.headcount ?? 0}::int AS delta FROM slot_usage
      WHERE slot_start >= ${claim?.start_at ?? null}::timestamptz AND slot_start < ${claim?.end_at ?? null}::timestamptz
      UNION ALL
      SELECT slot_start, -${release?.headcount ?? 0}::int FROM slot_usage
      WHERE slot_start >= ${release?.start_at ?? null}::timestamptz
        AND slot_start < ${release?.end_at ?? null}::timestamptz`,
  );
  return claim ? [ensureSlotRows(tx, config, claim), changes] : [changes];
}

/** Throws CAPACITY_EXCEEDED, naming the fullest slot, when a claimed slot's counter could not take the headcount. */
export function assertShifted(config: CapacityConfig, claim: Hold, changed: SlotChange[]): void {
  const [fullest] = changed.filter((slot) => !slot.applied).sort((a, b) => b.confirmed - a.confirmed);
  if (fullest) {
    throw capacityExceeded(config, fullest.slot_start, fullest.confirmed - fullest.delta, claim.headcount);
  }
}

/**
 * The limits a confirmation's capacity is claimed against at its COMMIT (by `claim_confirmed_capacity`, a deferred
 * trigger of migration 0006), as a select list: the statement that confirms sets them for its transaction.
 */
export const commitClaimLimits = (tx: Tx, config: CapacityConfig) =>
  tx`set_config('exam_slots.capacity', ${String(config.MAX_CONCURRENT_EXAMINEES)}, true),
    set_config('exam_slots.slot_minutes', ${String(config.SLOT_MINUTES)}, true)`;

/** CAPACITY_EXCEEDED for a COMMIT whose claim did not fit (its DETAIL names the slot); any other error as it is. */
export function commitClaimRefusal(config: CapacityConfig, error: unknown): unknown {
  if (!isCheckViolation(error, "slot_usage_within_capacity") || !error.detail) return error;
  const { slot_start, confirmed, headcount } = JSON.parse(error.detail);
  return capacityExceeded(config, new Date(slot_start), confirmed, headcount);
}

/**
 * Gives back the confirmed capacity held by a user's reservations, in the transaction that deletes them; the caller
 * has locked them in a statement of its own, so this reads their latest state (a confirmation that was in flight has
 * committed) and sees every slot row that confirmation created.
 */
export async function releaseUserCapacity(tx: Tx, config: CapacityConfig, userId: number): Promise<void> {
  await applyChanges(
    tx,
    config,
    tx`
      SELECT u.slot_start, -r.headcount AS delta
      FROM reservations r JOIN slot_usage u ON u.slot_start >= r.start_at AND u.slot_start < r.end_at
      WHERE r.user_id = ${userId} AND r.status = 'confirmed'`,
  );
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

/**
 * Creates the missing counter rows of a window, in slot order, for the transaction that then locks them: concurrent
 * inserts of one key wait for each other, so a common order keeps them deadlock-free. Rows the snapshot already has
 * are left out before the insert: a conflict check on a row another transaction is updating would wait for it.
 */
function ensureSlotRows(tx: Tx, config: CapacityConfig, window: Window) {
  const step = slotStep(tx, config.SLOT_MINUTES);
  return tx`
    INSERT INTO slot_usage (slot_start, capacity)
    SELECT s, ${config.MAX_CONCURRENT_EXAMINEES}
    FROM generate_series(${window.start_at}::timestamptz, ${window.end_at}::timestamptz - ${step}, ${step}) s
    WHERE NOT EXISTS (SELECT FROM slot_usage u WHERE u.slot_start = s)
    ORDER BY s
    ON CONFLICT DO NOTHING`;
}

/**
 * Adds each slot's summed delta where the slot stays within capacity, and returns every slot's count with whether its
 * change applied (one that did not means the claim does not fit: the caller must roll back). The counter rows are
 * locked by `ORDER BY slot_start FOR UPDATE` (rows are locked as the sort hands them out), and the UPDATE touches only
 * rows that CTE has already locked, so every transaction takes its slot locks in the same order and none can deadlock
 * another. The fit is judged in the UPDATE's own WHERE, which PostgreSQL evaluates on the latest version of the row
 * (the locking CTE may hand back the version of the statement's snapshot). The row's `capacity` follows the
 * configuration, so the table's CHECK refuses an overbooked slot whatever code path writes it; a release never
 * raises it above what the slot already holds.
 */
function applyChanges(tx: Tx, config: CapacityConfig, changes: postgres.Fragment) {
  const capacity = config.MAX_CONCURRENT_EXAMINEES;
  return tx<SlotChange[]>`
    WITH deltas AS (
      SELECT slot_start, sum(delta)::int AS delta FROM (${changes}) c
      GROUP BY slot_start
      HAVING sum(delta) <> 0
    ), slot_locks AS MATERIALIZED (
      SELECT slot_start, confirmed FROM slot_usage
      WHERE slot_start IN (SELECT slot_start FROM deltas)
      ORDER BY slot_start
      FOR UPDATE
    ), updated AS (
      UPDATE slot_usage u SET
        confirmed = u.confirmed + d.delta,
        capacity = CASE WHEN d.delta > 0 THEN ${capacity} ELSE greatest(${capacity}, u.confirmed + d.delta) END
      FROM slot_locks l JOIN deltas d USING (slot_start)
      WHERE u.slot_start = l.slot_start AND (d.delta < 0 OR u.confirmed + d.delta <= ${capacity})
      RETURNING u.slot_start, u.confirmed
    )
    SELECT d.slot_start, d.delta, coalesce(up.confirmed, l.confirmed + d.delta) AS confirmed,
      up.slot_start IS NOT NULL AS applied
    FROM deltas d JOIN slot_locks l USING (slot_start) LEFT JOIN updated up USING (slot_start)
    ORDER BY d.slot_start`;
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
