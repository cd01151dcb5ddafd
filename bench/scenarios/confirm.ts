import { openDatabase, type Sql } from "../../src/platform/db.ts";
import { migrate } from "../../src/platform/migrate.ts";
import { freshDatabase } from "../../harness/servers.ts";
import { capacityDrift } from "../../src/reservations/capacity.ts";
import { assertOutcomes, round, type Run, run, type Sample, summarize } from "../driver.ts";
import { defaults, startService } from "../service.ts";
import { futureDay, hours } from "./dates.ts";
import type { Scenario } from "./types.ts";
import { api } from "../../harness/paths.ts";

const capacity = defaults.MAX_CONCURRENT_EXAMINEES;
const warmups = 100;
const rounds = 4;

/** `count` pending reservations over 14:00–16:00 of `day`, inserted in one statement; their ids in order. */
export async function pending(
  sql: Sql,
  userId: number,
  day: Date,
  count: number,
  headcount: number,
): Promise<number[]> {
  const rows = await sql<{ id: number }[]>`
    INSERT INTO reservations (user_id, start_at, end_at, headcount)
    SELECT ${userId}, ${hours(day, 14)}, ${hours(day, 16)}, ${headcount} FROM generate_series(1, ${count})
    RETURNING id`;
  return rows.map((row) => row.id).sort((a, b) => a - b);
}

/** Confirmed headcount per slot of `day`, summed from the reservations themselves rather than the counters. */
async function confirmedOn(sql: Sql, day: Date) {
  return await sql<{ slot: Date; confirmed: number; reservations: number }[]>`
    SELECT slot, sum(headcount)::int AS confirmed, count(*)::int AS reservations
    FROM reservations, generate_series(start_at, end_at - interval '1 hour', interval '1 hour') slot
    WHERE status = 'confirmed' AND start_at >= ${day} AND start_at < ${hours(day, 24)}
    GROUP BY slot ORDER BY slot`;
}

class Refused extends Error {}

/** The last migration of the schema the naive transaction was written for: from 0006 the database claims at commit. */
const naiveSchema = "0005_pending_count_per_row.sql";

/**
 * A fresh database on the same server with the schema `naiveConfirm` was written for (on a later one, the database
 * would claim a confirmation's slots a second time), and a customer in it; its URL too, to reach it another way.
 */
export async function naiveDatabase(pool: number) {
  const url = await freshDatabase();
  const migrations = await Deno.makeTempDir({ prefix: "exam-slots-naive-schema-" });
  const all = new URL("../../migrations/", import.meta.url);
  for await (const { name } of Deno.readDir(all)) {
    if (name.endsWith(".sql") && name <= naiveSchema) await Deno.copyFile(new URL(name, all), `${migrations}/${name}`);
  }
  const database = await openDatabase({ DATABASE_URL: url, DATA_DIR: "", DB_POOL_MAX: pool });
  await migrate(database.sql, new URL(`file://${migrations}/`));
  await Deno.remove(migrations, { recursive: true });
  const [customer] = await database.sql<{ id: number }[]>`
    INSERT INTO users (username, email, password_hash) VALUES ('naive', 'naive@bench.test', 'unused') RETURNING id`;
  return { url, sql: database.sql, customerId: customer.id, close: database.close };
}

/**
 * The reference: confirmation as the naive transaction the service started with, frozen here so that it stays
 * the yardstick while the service improves. BEGIN, then five statements each awaited after the one before: lock
 * the reservation, mark it confirmed, create its missing counter rows, lock its counters in slot order and add
 * the headcount, COMMIT (six round trips, counted with harness/delay-proxy.ts). "409" when it does not fit.
 */
export async function naiveConfirm(sql: Sql, id: number): Promise<string> {
  const step = sql`make_interval(mins => ${defaults.SLOT_MINUTES}::int)`;
  try {
    await sql.begin(async (tx) => {
      const [reservation] = await tx`SELECT * FROM reservations WHERE id = ${id} FOR UPDATE`;
      if (reservation?.status !== "pending") throw new Refused();
      const { start_at: start, end_at: end, headcount } = reservation;
      await tx`
        UPDATE reservations SET status = 'confirmed', confirmed_at = now(), updated_at = now()
        WHERE id = ${id}
        RETURNING *`;
      await tx`
        INSERT INTO slot_usage (slot_start)
        SELECT s FROM generate_series(${start}::timestamptz, ${end}::timestamptz - ${step}, ${step}) s
        ORDER BY s
        ON CONFLICT DO NOTHING`;
      const slots = await tx<{ confirmed: number }[]>`
        WITH locked AS MATERIALIZED (
          SELECT slot_start FROM slot_usage
          WHERE slot_start >= ${start} AND slot_start < ${end}
          ORDER BY slot_start
          FOR UPDATE
        )
        UPDATE slot_usage u SET confirmed = u.confirmed + ${headcount}
        FROM locked
        WHERE u.slot_start = locked.slot_start
        RETURNING u.confirmed`;
      if (slots.some((slot) => slot.confirmed > capacity)) throw new Refused();
    });
    return "200";
  } catch (error) {
    if (error instanceof Refused) return "409";
    throw error;
  }
}

/**
 * N pending reservations on one hot window, confirmed by C parallel admin clients over HTTP, against the naive
 * transaction above called straight on postgres.js at the same concurrency, on the same server (its own database).
 * More is requested than fits, so the end state is exact: floor(capacity / headcount) confirmed, the rest 409.
 * Then the invariant checker runs over the whole database (scenario 5).
 */
export const confirm: Scenario = {
  name: "confirm",
  async run(options) {
    const service = await startService(options);
    const naive = await naiveDatabase(options.pool);
    try {
      const admin = await service.user("confirm-admin", true);
      const customer = await service.user("confirm-customer");
      const headcount = Math.ceil((capacity * 1.25) / options.confirms);
      const [httpDay, rawDay, httpWarmDay, rawWarmDay] = [0, 1, 2, 3].map(futureDay);
      const seed = (day: Date, count: number) => pending(service.sql, customer.id, day, count, headcount);
      const seedNaive = (day: Date, count: number) => pending(naive.sql, naive.customerId, day, count, headcount);
      const [httpIds, rawIds, httpWarm, rawWarm] = [
        await seed(httpDay, options.confirms),
        await seedNaive(rawDay, options.confirms),
        await seed(httpWarmDay, warmups),
        await seedNaive(rawWarmDay, warmups),
      ];
      await service.sql`ANALYZE`;
      await naive.sql`ANALYZE`;

      const overHttp = (ids: number[]) =>
        run({
          concurrency: options.concurrency,
          total: ids.length,
          operation: async (i) =>
            String(
              (await service.call("POST", api(`/reservations/${ids[i]}/confirm/`), { token: admin.access })).status,
            ),
        });
      const direct = (ids: number[]) =>
        run({
          concurrency: options.concurrency,
          total: ids.length,
          operation: (i) => naiveConfirm(naive.sql, ids[i]),
        });

      await overHttp(httpWarm);
      await direct(rawWarm);
      // Interleaved rounds, so a noisy moment of the machine (or autovacuum) weighs on both sides alike.
      const httpRuns: Run[] = [];
      const rawRuns: Run[] = [];
      for (let round = 0; round < rounds; round++) {
        const slice = (ids: number[]) => ids.slice((round * ids.length) / rounds, ((round + 1) * ids.length) / rounds);
        httpRuns.push(await overHttp(slice(httpIds)));
        rawRuns.push(await direct(slice(rawIds)));
      }
      const http = summarize(...httpRuns);
      const raw = summarize(...rawRuns);
      for (const [label, sample] of [["confirm over HTTP", http], ["naive confirm on raw SQL", raw]] as const) {
        assertOutcomes(label, sample, ["200", "409"]);
      }

      const fits = Math.floor(capacity / headcount);
      const exact = async (sql: Sql, day: Date, sample: Sample) => {
        const slots = await confirmedOn(sql, day);
        const ok = sample.outcomes["200"] === fits && slots.length === 2 &&
          slots.every((s) => s.confirmed === fits * headcount && s.reservations === fits);
        return { ok, detail: { expectedConfirmed: fits, answered200: sample.outcomes["200"] ?? 0, slots } };
      };
      const drift = [...await capacityDrift(service.sql, defaults), ...await capacityDrift(naive.sql, defaults)];
      const overbooked = async (sql: Sql) =>
        (await sql<{ slots: number }[]>`
          SELECT count(*)::int AS slots FROM (
            SELECT slot FROM reservations, generate_series(start_at, end_at - interval '1 hour', interval '1 hour') slot
            WHERE status = 'confirmed' GROUP BY slot HAVING sum(headcount) > ${capacity}
          ) over`)[0].slots;
      const overbookedSlots = await overbooked(service.sql) + await overbooked(naive.sql);

      return {
        name: "confirm",
        samples: {
          [`POST /reservations/{id}/confirm/ (${options.confirms}, C=${options.concurrency})`]: http,
          [`naive confirm transaction on postgres.js (${options.confirms}, C=${options.concurrency})`]: raw,
        },
        ratio: {
          name: "confirm HTTP / naive transaction",
          value: round(http.perSecond / raw.perSecond, 3),
          target: { atLeast: 1.2 },
        },
        checks: {
          "capacity drift (capacityDrift)": { ok: drift.length === 0, detail: { driftingSlots: drift.length } },
          "overbooked slots": { ok: overbookedSlots === 0, detail: { overbookedSlots } },
          "HTTP hot slot filled exactly": await exact(service.sql, httpDay, http),
          "raw hot slot filled exactly": await exact(naive.sql, rawDay, raw),
        },
        notes: { headcount, capacity },
      };
    } finally {
      await naive.close();
      await service.stop();
    }
  },
};
