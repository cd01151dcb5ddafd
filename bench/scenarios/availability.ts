import type { Sql } from "../../src/platform/db.ts";
import { assertOutcomes, drive, round } from "../driver.ts";
import { startService } from "../service.ts";
import { futureDay, isoDate } from "./dates.ts";
import type { Scenario } from "./types.ts";
import { api } from "../../harness/paths.ts";

const smallSet = 1_000;
const days = 365;

/**
 * Inserts reservations numbered `from`..`to` in one statement: spread over a year, 1 to 3 hours long, half of them
 * confirmed. A bulk load, as a restore makes one: with the triggers off (`session_replication_role`), and the counters
 * the triggers would have kept rebuilt from the reservations at the end, in the same transaction.
 */
async function seed(sql: Sql, userId: number, from: number, to: number) {
  const first = futureDay(0);
  await sql.begin(async (tx) => {
    await tx`SET LOCAL session_replication_role = replica`;
    await tx`
      INSERT INTO reservations (user_id, start_at, end_at, headcount, status, confirmed_at)
      SELECT ${userId}, s, s + (1 + g % 3) * interval '1 hour', 1 + g % 100,
             CASE WHEN g % 2 = 0 THEN 'confirmed' ELSE 'pending' END, CASE WHEN g % 2 = 0 THEN now() END
      FROM generate_series(${from}::int, ${to}::int) g,
           LATERAL (SELECT ${first}::timestamptz + (g % ${days}) * interval '1 day' + (g * 7 % 21) * interval '1 hour') w(s)`;
    await tx`
      INSERT INTO slot_usage (slot_start, confirmed)
      SELECT slot, sum(headcount) FROM reservations,
             generate_series(start_at, end_at - interval '1 hour', interval '1 hour') slot
      WHERE status = 'confirmed' GROUP BY slot
      ON CONFLICT (slot_start) DO UPDATE SET confirmed = excluded.confirmed`;
    await tx`
      UPDATE users u SET pending_count = (SELECT count(*) FROM reservations r WHERE r.user_id = u.id AND r.status = 'pending')
      WHERE u.id = ${userId}`;
  });
  // Settled, as a database is between bulk loads: otherwise autovacuum and the checkpointer, woken by a million
  // new rows, run during the big measurement and it times them along with the read.
  await sql`VACUUM ANALYZE`;
  await sql`CHECKPOINT`;
}

/** The p50 of one day's availability with 1,000 and with `bigSet` reservations in the database. */
export const availability: Scenario = {
  name: "availability",
  async run(options) {
    const service = await startService(options);
    try {
      const customer = await service.user("availability-customer");
      const path = api(`/availability/?date=${isoDate(futureDay(days / 2 | 0))}`);
      const measure = async (label: string) => {
        const sample = await drive({
          concurrency: options.concurrency,
          seconds: options.seconds,
          warmup: 1,
          operation: async () => String((await service.call("GET", path, { token: customer.access })).status),
        });
        assertOutcomes(label, sample, ["200"]);
        return sample;
      };
      await seed(service.sql, customer.id, 1, smallSet);
      const small = await measure("availability, small set");
      const began = performance.now();
      await seed(service.sql, customer.id, smallSet + 1, options.bigSet);
      const seedSeconds = round((performance.now() - began) / 1000, 1);
      const big = await measure("availability, big set");
      return {
        name: "availability",
        samples: {
          [`GET /availability/ (${smallSet.toLocaleString("en")} reservations)`]: small,
          [`GET /availability/ (${options.bigSet.toLocaleString("en")} reservations)`]: big,
        },
        ratio: { name: "availability p50 big / small", value: round(big.p50 / small.p50, 3), target: { atMost: 1.5 } },
        notes: { bigSetInsertSeconds: seedSeconds },
      };
    } finally {
      await service.stop();
    }
  },
};
