// The driver's failure modes that could hand one query another's answer (porsager/postgres#1119), on real
// PostgreSQL, directly and through PgBouncer, and on the embedded PGlite.
import postgres from "postgres";
import { assert, assertEquals } from "./support/assert.ts";
import { isDatabaseUnreachable, isQueryCanceled, openDatabase, type Sql } from "../src/platform/db.ts";
import { freshDatabase, postgresRoutes } from "../harness/servers.ts";
import { DelayProxy } from "../harness/delay-proxy.ts";
import { delay } from "../harness/process.ts";

/** Three rows reach the client, then the fourth divides by zero. */
const failsAtRowFour = (sql: Sql) => sql`SELECT i, 1 / (4 - i) AS boom FROM generate_series(1, 10) i`;
/** A thousand rows of 100 bytes go out, then the statement sleeps past any timeout of this file. */
const stallsAfterRows = (sql: Sql) =>
  sql`SELECT i, repeat('x', 100) AS pad, pg_sleep(CASE WHEN i = 1000 THEN 5 ELSE 0 END) FROM generate_series(1, 2000) i`;
const fiveRows = (sql: Sql) => sql<{ x: number }[]>`SELECT x FROM generate_series(1, 5) x`;
const five = [1, 2, 3, 4, 5].map((x) => ({ x }));

Deno.test("driver – postgres.js alone answers the query after one that failed mid-result with empty places first (porsager/postgres#1119, open upstream): what src/platform/db-row-guard.ts mends", async () => {
  const sql = postgres(await freshDatabase(), { max: 1, onnotice: () => {} });
  try {
    assertEquals((await failsAtRowFour(sql).catch((error) => error)).code, "22012");
    const next = await fiveRows(sql);
    // When this fails, postgres.js resets its row counter itself and the guard can go (docs/poolers.md).
    assertEquals([next.count, next.length, next[0]], [5, 8, undefined]);
  } finally {
    await sql.end();
  }
});

const statementTimeoutMs = 300;
const targets = [
  ...postgresRoutes.map((route) => ({ name: `PostgreSQL${route.via}`, ...route, timeouts: true })),
  // PGlite runs no statement timeout (see src/platform/db.ts).
  { name: "embedded PGlite", fresh: undefined, DB_POOLER: "none", timeouts: false },
] as const;

for (const target of targets) {
  Deno.test(`driver – after a statement fails while its rows stream, the next query on its connection gets its own rows (${target.name})`, async (t) => {
    const dataDir = target.fresh ? "" : await Deno.makeTempDir({ prefix: "exam-slots-driver-" });
    const { sql, close } = await openDatabase({
      DATABASE_URL: await target.fresh?.(),
      DATA_DIR: dataDir,
      DB_POOL_MAX: 1, // one connection: every query follows the failed one on it
      DB_POOLER: target.DB_POOLER,
      DB_STATEMENT_TIMEOUT_MS: statementTimeoutMs,
    });
    try {
      await t.step("a division by zero in a late row, then a query awaited after it", async () => {
        assertEquals((await failsAtRowFour(sql).catch((error) => error)).code, "22012");
        assertEquals([...await fiveRows(sql)], five);
      });

      await t.step("the same with the next query sent at once, pipelined behind it", async () => {
        const [failed, next] = await Promise.all([failsAtRowFour(sql).catch((error) => error), fiveRows(sql)]);
        assertEquals(failed.code, "22012");
        assertEquals([...next], five);
      });

      if (target.timeouts) {
        await t.step("a statement cut off by statement_timeout after a thousand rows, then any query", async () => {
          const [cut, next] = await Promise.all([stallsAfterRows(sql).catch((error) => error), fiveRows(sql)]);
          assert(isQueryCanceled(cut), String(cut));
          assertEquals([...next], five);
          assertEquals([...await fiveRows(sql)], five);
        });
      }
    } finally {
      await close();
      if (dataDir) await Deno.remove(dataDir, { recursive: true });
    }
  });
}

Deno.test("driver – a connection lost while rows stream leaves the next query, on a new connection, its own rows", async () => {
  const proxy = new DelayProxy(await freshDatabase(), { delayMs: 0 });
  const { sql, close } = await openDatabase({ DATABASE_URL: proxy.url, DATA_DIR: "", DB_POOL_MAX: 1 });
  try {
    const streaming = stallsAfterRows(sql).catch((error) => error);
    await delay(500); // the first thousand rows are in; the statement sleeps
    proxy.cut();
    assert(isDatabaseUnreachable(await streaming), String(await streaming));
    assertEquals([...await fiveRows(sql)], five);
  } finally {
    await close();
    await proxy.stop();
  }
});
