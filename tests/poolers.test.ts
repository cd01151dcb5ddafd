// The service behind a transaction-mode pooler: Debian's PgBouncer 1.18 (no prepared-statement support, the default
// ignore_startup_parameters) in front of the test cluster. docs/poolers.md explains each behaviour.
import postgres from "postgres";
import { assert, assertEquals, assertMatch } from "./support/assert.ts";
import { withContext } from "./support/app.ts";
import { assertProblem } from "./support/problems.ts";
import { book, booking, confirm } from "./support/reservations.ts";
import { DatabaseOpenError, isQueryCanceled, openDatabase, type Sql } from "../src/platform/db.ts";
import { isTransactionPooler } from "../src/platform/db-pooler.ts";
import { freshDatabase, freshPooledDatabase, startTestPooler, startTestServers } from "../harness/servers.ts";
import { startPgBouncer } from "../harness/pgbouncer.ts";

const pooled = (url: string, env: { DB_STATEMENT_TIMEOUT_MS?: number; DB_POOL_MAX?: number } = {}) =>
  openDatabase({ DATABASE_URL: url, DATA_DIR: "", DB_POOL_MAX: 2, DB_POOLER: "transaction", ...env });

/** What PgBouncer logged about answers of the database of `url` it had to drop: none, when the client keeps to its rules. */
async function droppedAnswers(url: string) {
  const database = new URL(url).pathname.slice(1);
  const log = await (await startTestPooler()).log();
  return log.split("\n").filter((line) => line.includes(` ${database}/`) && /not linked/.test(line));
}

Deno.test("poolers – DB_POOLER=auto tells the transaction poolers of Neon and Supabase by their address, and nothing else", () => {
  const auto = (url: string) => isTransactionPooler(new URL(url));
  assert(auto("postgres://u:p@ep-cool-name-123456-pooler.us-east-2.aws.neon.tech/db?sslmode=require"));
  assert(!auto("postgres://u:p@ep-cool-name-123456.us-east-2.aws.neon.tech/db?sslmode=require"));
  assert(auto("postgres://postgres.ref:p@aws-0-eu-central-1.pooler.supabase.com:6543/postgres"));
  assert(!auto("postgres://postgres.ref:p@aws-0-eu-central-1.pooler.supabase.com:5432/postgres"), "session mode");
  assert(auto("postgres://postgres:p@db.abcdefghijklmnop.supabase.co:6543/postgres"), "Supabase's dedicated PgBouncer");
  assert(!auto("postgres://postgres:p@db.abcdefghijklmnop.supabase.co:5432/postgres"));
  assert(!auto("postgres://u:p@127.0.0.1:6543/db"), "a port alone says nothing");
  assert(isTransactionPooler(new URL("postgres://u@127.0.0.1:6432/db"), "transaction"));
  assert(!isTransactionPooler(new URL("postgres://u@x-pooler.neon.tech/db"), "none"));
});

/**
 * Two queries sent together on one connection: the first ends in Sync; the second, with a parameter and new to the
 * connection, is described first (Parse, Describe, Flush, no Sync). Parsing it waits for a lock another session
 * holds for 200 ms, so its describe is answered well after the first one's ReadyForQuery: "answered" or "lost".
 */
async function describedBehindAnother(url: string, sql: Sql): Promise<unknown> {
  const direct = postgres(url, { max: 1, onnotice: () => {} });
  try {
    await direct`CREATE TABLE IF NOT EXISTS locked (n int)`;
    await sql`SELECT 0`; // the connection is open: the next two go out together on it
    let pair: Promise<unknown> | undefined;
    await direct.begin(async (tx) => {
      await tx`LOCK TABLE locked IN ACCESS EXCLUSIVE MODE`;
      pair = Promise.all([sql`SELECT 1 AS one`, sql`SELECT ${2}::int AS two FROM locked`]).then(() => "answered");
      await new Promise((resolve) => setTimeout(resolve, 200));
    });
    return await Promise.race([pair, new Promise((resolve) => setTimeout(() => resolve("lost"), 1000))]);
  } finally {
    await direct.end();
  }
}

Deno.test("poolers – a query described first, pipelined behind another, is lost through PgBouncer 1.18 with postgres.js's own `prepare: false`, and answered on the service's connection", async (t) => {
  const url = await freshDatabase();
  const throughPooler = (await startTestPooler()).url(url);

  await t.step(
    "postgres.js with prepare: false: PgBouncer takes the server back at the first ReadyForQuery and drops the describe's answer",
    async () => {
      const sql = postgres(throughPooler, { max: 1, prepare: false, onnotice: () => {} });
      try {
        // When this fails, PgBouncer (or postgres.js) handles it, and db-pooler-guard.ts need not hold it back.
        assertEquals(await describedBehindAnother(url, sql), "lost");
      } finally {
        await sql.end({ timeout: 0 });
      }
    },
  );

  await t.step("the service's connection holds the describe back until the first is answered", async () => {
    const { sql, close } = await pooled(throughPooler, { DB_POOL_MAX: 1 });
    try {
      assertEquals(await describedBehindAnother(url, sql), "answered");
    } finally {
      await close();
    }
  });
});

Deno.test("poolers – through PgBouncer, queries described first and pipelined behind others, queries the pool knows and transactions all get their own answers, and no prepared statement is left on a server", async () => {
  const url = await freshPooledDatabase();
  const instances = await Promise.all([1, 2, 3].map(() => pooled(url)));
  try {
    const wrong: string[] = [];
    // Each instance pipelines 200 queries on its 2 connections; every other one is a statement new to the pool.
    await Promise.all(instances.flatMap(({ sql }, n) =>
      Array.from({ length: 200 }, async (_, i) => {
        const [row] = i % 2
          ? await sql`SELECT ${i}::int AS i, ${n}::int AS n`
          : await sql.unsafe(`SELECT $1::int AS i, $2::int AS n, ${i} AS unique_text`, [i, n]);
        if (row.i !== i || row.n !== n) wrong.push(`${n}/${i}: ${JSON.stringify(row)}`);
      })
    ));
    await Promise.all(instances.flatMap(({ sql }, n) =>
      Array.from({ length: 50 }, async (_, i) => {
        const [[a], [b]] = await sql.begin((tx) => [tx`SELECT ${i}::int AS i`, tx`SELECT ${n}::int AS n`]);
        if (a.i !== i || b.n !== n) wrong.push(`transaction ${n}/${i}`);
      })
    ));
    assertEquals(wrong, []);
    assertEquals(await droppedAnswers(url), []);
    const statements = await Promise.all(
      Array.from({ length: 20 }, () => instances[0].sql`SELECT count(*)::int AS count FROM pg_prepared_statements`),
    );
    assertEquals(statements.map(([{ count }]) => count), Array(20).fill(0));
  } finally {
    await Promise.all(instances.map((instance) => instance.close()));
  }
});

/** The statement_timeout this role has in this database (ALTER ROLE … IN DATABASE … SET), if any. */
async function roleTimeout(sql: Sql): Promise<string | undefined> {
  const [row] = await sql<{ value: string }[]>`
    SELECT substring(setting FROM '^statement_timeout=(.*)$') AS value
    FROM pg_db_role_setting s, unnest(s.setconfig) AS setting
    WHERE s.setrole = (SELECT oid FROM pg_roles WHERE rolname = current_user)
      AND s.setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database())
      AND setting LIKE 'statement_timeout=%'`;
  return row?.value;
}

Deno.test("poolers – the statement timeout reaches the pooler's server sessions as the role's setting in the database, set by one of three instances starting at once, and changed only when it differs", async () => {
  const url = await freshPooledDatabase();
  const three = await Promise.all([1, 2, 3].map(() => pooled(url, { DB_STATEMENT_TIMEOUT_MS: 300, DB_POOL_MAX: 4 })));
  try {
    const { sql } = three[0];
    assertEquals(await roleTimeout(sql), "300");
    // Twelve sleeps at once occupy twelve server sessions: each one cancels its statement at 300 ms.
    const sleeps = await Promise.all(
      three.flatMap(({ sql }) => [1, 2, 3, 4].map(() => sql`SELECT pg_sleep(1)`.then(() => "slept", (e) => e))),
    );
    assertEquals(sleeps.filter((outcome) => !isQueryCanceled(outcome)), []);
    const changed = await pooled(url, { DB_STATEMENT_TIMEOUT_MS: 400 });
    await changed.close();
    assertEquals(await roleTimeout(sql), "400");
    const untouched = await pooled(url, { DB_STATEMENT_TIMEOUT_MS: 0 });
    await untouched.close();
    assertEquals(await roleTimeout(sql), "400", "DB_STATEMENT_TIMEOUT_MS=0 leaves the role as it is");
  } finally {
    await Promise.all(three.map((instance) => instance.close()));
  }
});

Deno.test("poolers – through the pooler, a confirmation waiting on a lock past DB_STATEMENT_TIMEOUT_MS is cut off with 503", async () => {
  await withContext({ backend: "pooled", env: { DB_STATEMENT_TIMEOUT_MS: "300" } }, async (t) => {
    const admin = await t.admin();
    const alice = await t.customer();
    const pending = await book(t, alice.access, booking("2027-04-20T10:00:00Z", 1, 10));
    await t.sql.begin(async (tx) => {
      await tx`SELECT id FROM reservations WHERE id = ${pending.id} FOR UPDATE`;
      assertProblem(await confirm(t, admin.access, pending.id), 503, "SERVICE_UNAVAILABLE");
    });
    assertEquals((await confirm(t, admin.access, pending.id)).status, 200);
  });
});

Deno.test("poolers – TLS is negotiated below the guards: sslmode=require through a pooler that demands it, verify-full refusing its self-signed certificate in one line, prefer falling back to plain", async (t) => {
  const { postgres: cluster } = await startTestServers();
  const bouncer = await startPgBouncer(cluster.port, { tls: true });
  try {
    const url = new URL(bouncer.url(await freshDatabase()));
    const withMode = (mode: string) => `${url.href}?sslmode=${mode}`;

    await t.step("sslmode=require: encrypted, and the row guard reads the protocol through it", async () => {
      const { sql, close } = await pooled(withMode("require"), { DB_STATEMENT_TIMEOUT_MS: 1000 });
      try {
        const [failed, next] = await Promise.all([
          sql`SELECT i, 1 / (4 - i) AS boom FROM generate_series(1, 10) i`.catch((error) => error),
          sql`SELECT x FROM generate_series(1, 3) x`,
        ]);
        assertEquals([failed.code, [...next]], ["22012", [{ x: 1 }, { x: 2 }, { x: 3 }]]);
      } finally {
        await close();
      }
    });

    const refusal = (mode?: string) =>
      pooled(mode ? withMode(mode) : url.href).then(
        async (database) => void await database.close(),
        (error: Error) => error,
      );
    await t.step("verify-full: the certificate is checked, and refused in one line", async () => {
      const error = await refusal("verify-full");
      assert(error instanceof DatabaseOpenError, String(error));
      assertMatch(
        error.message,
        new RegExp(`^cannot open the database at 127\\.0\\.0\\.1:${bouncer.port} .*self[- ]signed`),
      );
      assert(!error.message.includes("\n"));
    });

    await t.step("no sslmode: plain text, which this pooler refuses", async () => {
      const error = await refusal();
      assert(error instanceof DatabaseOpenError, String(error));
      assertMatch(error.message, /SSL required/);
    });

    await t.step("sslmode=prefer goes on in plain text with a server that declines TLS; require does not", async () => {
      const plain = await freshDatabase();
      const preferred = await openDatabase({ DATABASE_URL: `${plain}?sslmode=prefer`, DATA_DIR: "", DB_POOL_MAX: 1 });
      await preferred.close();
      const required = await openDatabase({ DATABASE_URL: `${plain}?sslmode=require`, DATA_DIR: "", DB_POOL_MAX: 1 })
        .then(async (database) => void await database.close(), (error: Error) => error);
      assertMatch(String(required), /does not accept TLS/);
    });
  } finally {
    await bouncer.stop();
  }
});
