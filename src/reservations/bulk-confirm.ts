import { AppError } from "../http/problem.ts";
import type { Caller, User } from "../auth/auth.schemas.ts";
import { keyInUse, keyTaken, lockKey, outcomeInsert } from "../idempotency/idempotency.service.ts";
import type { Config } from "../config.ts";
import { assertFits, capacityRefusal, type FullestSlot, slotStarts } from "./capacity.ts";
import { eventInsert } from "./history.ts";
import type { BulkConfirmResult } from "./reservations.schemas.ts";

import { notFound, type ReservationRow, type ServiceDeps, type Write } from "./reservation.ts";
import { assertConfirmable, confirmedEvent, confirming } from "./changes.ts";

type Verdicts = { ids: number[]; statuses: number[]; codes: (string | null)[]; details: (string | null)[] };

/**
 * Confirms up to 100 reservations in one transaction, each judged as `confirmReservation` would judge it, in the
 * order given, so a slot that fills refuses the later ids only. The reservations are locked in id order and every
 * counter their windows hold is locked in slot order (`lock_counters`), the order every transaction takes them in, so
 * no order of ids and no concurrent confirmation can deadlock it; then the fit of each is judged on those locked
 * counters, and the ones that fit are confirmed in one statement, with their events and the stored outcome. Five
 * round trips, whatever the number of ids.
 */
export async function confirmReservations(
  deps: ServiceDeps,
  caller: Caller,
  ids: number[],
  write: Write,
): Promise<{ results: BulkConfirmResult[] }> {
  const { sql, config, clock } = deps;
  const now = clock();
  const user = await caller.user;
  const key = write.idempotency;
  const judged = await sql.begin(async (tx) => {
    const [[claim], rows, counters] = await Promise.all([
      tx<{ free: boolean }[]>`SELECT ${key ? lockKey(tx, key) : tx`true`} AS free`,
      tx<ReservationRow[]>`SELECT * FROM reservations WHERE id = ANY (${ids}::int[]) ORDER BY id FOR UPDATE`,
      tx<FullestSlot[]>`
        SELECT * FROM lock_counters((
          SELECT range_agg(tstzrange(start_at, end_at)) FROM reservations
          WHERE id = ANY (${ids}::int[]) AND status = 'pending'
        ))`,
    ]);
    if (!claim.free) throw keyInUse();
    const verdicts = judgeInOrder(config, user, now, ids, rows, counters);
    const [answer] = await tx<{ body: { results: BulkConfirmResult[] } }[]>`
      WITH target AS (SELECT unnest(${verdicts.ids.filter((_, i) => verdicts.statuses[i] === 200)}::int[]) AS id),
      confirmed AS (${confirming(tx, now, tx`target`)}),
      event AS (${eventInsert(tx, confirmedEvent(user, write, now), tx`confirmed`)}),
      results AS (
        SELECT json_build_object('results', json_agg(
          CASE WHEN v.status = 200
            THEN json_build_object('id', v.id, 'status', v.status, 'reservation', c.body)
            ELSE json_build_object('id', v.id, 'status', v.status, 'code', v.code, 'detail', v.detail)
          END ORDER BY v.n
        )) AS body
        FROM unnest(${verdicts.ids}::int[], ${verdicts.statuses}::int[], ${verdicts.codes}::text[],
          ${verdicts.details}::text[]) WITH ORDINALITY v (id, status, code, detail, n)
        LEFT JOIN confirmed c ON (c.row).id = v.id
      )${
      key
        ? tx`, outcome AS (${
          outcomeInsert(tx, key, now, {
            status: 200,
            headers: tx`${tx.json({ "Content-Type": "application/json" })}::jsonb`,
            body: tx`results.body::jsonb`,
            from: tx`FROM results`,
          })
        })`
        : tx``
    }
      SELECT body FROM results`;
    return answer.body;
  }).catch((error) => {
    // Every counter was locked and judged, so the COMMIT cannot refuse a claim; if it ever did, that is a 409 too.
    keyTaken(error);
    throw capacityRefusal(config, error);
  });
  return judged as { results: BulkConfirmResult[] };
}

/**
 * The verdict on each id in the order given: what confirming it alone would answer, on the counters as the ids before
 * it left them.
 */
function judgeInOrder(
  config: Config,
  user: User,
  now: Date,
  ids: number[],
  rows: ReservationRow[],
  counters: FullestSlot[],
): Verdicts {
  const byId = new Map(rows.map((row) => [row.id, row]));
  const confirmed = new Map(counters.map((slot) => [slot.slot_start.getTime(), slot.confirmed]));
  const verdicts: Verdicts = { ids, statuses: [], codes: [], details: [] };
  for (const id of ids) {
    const row = byId.get(id);
    try {
      if (!row) throw notFound();
      assertConfirmable(row, user, now, config);
      const slots = slotStarts(row, config.SLOT_MINUTES);
      const fullest = slots.reduce<FullestSlot | undefined>((most, slot) => {
        const count = confirmed.get(slot.getTime()) ?? 0;
        return most && most.confirmed >= count ? most : { slot_start: slot, confirmed: count };
      }, undefined);
      assertFits(config, row, fullest);
      for (const slot of slots) confirmed.set(slot.getTime(), (confirmed.get(slot.getTime()) ?? 0) + row.headcount);
      verdicts.statuses.push(200);
      verdicts.codes.push(null);
      verdicts.details.push(null);
    } catch (error) {
      if (!(error instanceof AppError)) throw error;
      verdicts.statuses.push(error.status);
      verdicts.codes.push(error.code);
      verdicts.details.push(error.message);
    }
  }
  return verdicts;
}
