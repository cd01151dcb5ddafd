// Round trips to the database, the latency an edge deployment pays for each: the instrument (a delay proxy that
// counts them) and the budget of issue 10 that every endpoint must meet with PostgreSQL 20 ms away.
import postgres from "postgres";
import { assert, assertEquals } from "./support/assert.ts";
import { DelayProxy } from "../harness/delay-proxy.ts";
import {
  type BudgetRow,
  budgetRow,
  type Edge,
  formatBudget,
  median,
  startEdge,
  withinBudget,
} from "../harness/round-trip-budget.ts";
import { freshDatabase, freshPooledDatabase } from "../harness/servers.ts";

Deno.test("the delay proxy", async (t) => {
  const proxy = new DelayProxy(await freshDatabase(), { delayMs: 25 });
  const rtt = 2 * proxy.delayMs;
  const sql = postgres(proxy.url, { max: 3, onnotice: () => {} });
  /** The round trips and milliseconds of `work`, run once before so the pool and its statements are warm. */
  const measure = async (work: () => Promise<unknown>) => {
    await work();
    proxy.reset();
    const began = performance.now();
    await work();
    return { roundTrips: proxy.roundTrips(), ms: performance.now() - began };
  };
  /** Each round trip costs one RTT and little else: the count agrees with the latency. */
  const assertRoundTrips = ({ roundTrips, ms }: { roundTrips: number; ms: number }, expected: number) => {
    assertEquals(roundTrips, expected);
    assert(ms >= expected * rtt && ms < (expected + 0.5) * rtt, `${ms.toFixed(1)} ms for ${expected} × ${rtt} ms`);
  };
  try {
    await Promise.all([1, 2, 3].map(() => sql`SELECT pg_sleep(0.05)`)); // opens all three connections
    assertEquals(proxy.openConnections(), 3);

    await t.step("holds every chunk delayMs each way: a query is one round trip of 2 × delayMs", async () => {
      assertRoundTrips(await measure(() => sql`SELECT 1`), 1);
    });

    await t.step("counts each query awaited after the answer to the one before", async () => {
      assertRoundTrips(
        await measure(async () => {
          for (const n of [1, 2, 3]) await sql`SELECT ${n}::int`;
        }),
        3,
      );
    });

    await t.step("counts queries sent together as one round trip, on one connection or several", async () => {
      const together = () => Promise.all([1, 2, 3, 4, 5, 6].map((n) => sql`SELECT ${n}::int`));
      assertRoundTrips(await measure(together), 1);
    });

    await t.step("counts the BEGIN and COMMIT of a transaction; its array form pipelines the statements", async () => {
      assertRoundTrips(await measure(() => sql.begin((tx) => [tx`SELECT 1`, tx`SELECT 2`, tx`SELECT 3`])), 3);
    });

    await t.step("counts the describe postgres.js sends first for a statement new to its connection", async () => {
      const name = `new_statement_${crypto.randomUUID().slice(0, 8)}`;
      proxy.reset();
      await sql`SELECT ${1}::int AS ${sql(name)}`;
      assertEquals(proxy.roundTrips(), 2);
    });

    await t.step("passes large messages both ways intact and in order", async () => {
      const text = Array.from({ length: 200_000 }, (_, i) => i).join(",");
      const [{ echoed }] = await sql`SELECT ${text}::text AS echoed`;
      assertEquals(echoed, text);
    });
  } finally {
    await sql.end();
    await proxy.stop();
  }
  assertEquals(proxy.openConnections(), 0);
});

const samples = 5;

/** Measures every endpoint of `edge`, one request at a time, against its budget; prints the table. */
async function assertBudget(t: Deno.TestContext, edge: Edge) {
  const rows: BudgetRow[] = [];
  try {
    for (const endpoint of edge.endpoints) {
      const most = `at most ${endpoint.budget} round trip${endpoint.budget === 1 ? "" : "s"}`;
      await t.step(`${endpoint.name} (${endpoint.request}) waits for ${most}`, async () => {
        const probe = await edge.ready(endpoint, samples);
        const latencies: number[] = [];
        for (let i = 0; i < samples; i++) {
          const began = performance.now();
          assertEquals(await probe.send(i), String(endpoint.status));
          latencies.push(performance.now() - began);
        }
        const row = budgetRow(endpoint, probe.roundTrips, median(latencies), edge.rttMs);
        rows.push(row);
        // Every counted round trip held the request for a whole RTT: the count is never more than the wait.
        probe.roundTrips.forEach((trips, i) => assert(latencies[i] >= trips * edge.rttMs));
        assert(withinBudget(row), `${row.roundTrips} sequential round trips, budget ${row.budget}`);
      });
    }
  } finally {
    console.log(`\n${formatBudget(rows, edge.rttMs)}\n`);
    await edge.stop();
  }
}

Deno.test("the round-trip budget of issue 10, with PostgreSQL 20 ms away", async (t) => {
  await assertBudget(t, await startEdge(await freshDatabase(), { delayMs: 10, pool: 4 }));
});

Deno.test("the round-trip budget of issue 10 through a transaction pooler (PgBouncer) 20 ms away", async (t) => {
  const env = { DB_POOLER: "transaction" };
  await assertBudget(t, await startEdge(await freshPooledDatabase(), { delayMs: 10, pool: 4, env }));
});
