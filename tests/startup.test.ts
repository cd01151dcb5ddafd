import postgres from "postgres";
import { assert, assertEquals, assertMatch } from "./support/assert.ts";
import {
  call,
  json,
  jwtSecret,
  runTask,
  runToExit,
  type ServerProcess,
  startServer,
  stopServer,
} from "../harness/server-process.ts";
import { freshDatabase, startTestPooler, startTestServers } from "../harness/servers.ts";
import { startPgBouncer } from "../harness/pgbouncer.ts";
import { freePort } from "../harness/process.ts";
import { api } from "../harness/paths.ts";

const admin = { ADMIN_EMAIL: "boss@example.test", ADMIN_PASSWORD: "boss-password-1" };

/** A fresh database and the shared Redis behind the Upstash proxy, as the instances of one deployment see them. */
async function deployment() {
  const servers = await startTestServers();
  return {
    JWT_SECRET: jwtSecret,
    DATABASE_URL: await freshDatabase(),
    UPSTASH_REDIS_REST_URL: servers.upstashUrl,
    UPSTASH_REDIS_REST_TOKEN: servers.upstashToken,
  };
}

/** Starts `count` instances at the same moment; every one that started is stopped by `body`'s end. */
async function together(count: number, env: Record<string, string>, body: (servers: ServerProcess[]) => Promise<void>) {
  const outcomes = await Promise.allSettled(Array.from({ length: count }, () => startServer(env)));
  const servers = outcomes.flatMap((o) => o.status === "fulfilled" ? [o.value] : []);
  try {
    const failures = outcomes.flatMap((o) => o.status === "rejected" ? [(o.reason as Error).message] : []);
    assertEquals(failures, [], "every instance started");
    await body(servers);
  } finally {
    await Promise.all(servers.map(stopServer));
  }
}

/** The emails of every admin row. */
async function admins(databaseUrl: string): Promise<string[]> {
  const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} });
  try {
    return (await sql<{ email: string }[]>`SELECT email FROM users WHERE is_admin ORDER BY id`).map((r) => r.email);
  } finally {
    await sql.end();
  }
}

const errorLines = (server: ServerProcess, text: string) =>
  server.lines.filter((line) => line.includes('"level":"error"') && line.includes(text));

Deno.test("start-up – three instances started at once, on an empty database and then on a populated one, all become healthy with exactly one admin", async () => {
  // Each empty database is a new race of migrations and admin bootstraps; the last round restarts on a populated one.
  const empty = [await deployment(), await deployment(), await deployment()];
  const rounds = [...empty, empty[2]];
  for (const env of rounds) {
    await together(3, { ...env, ...admin }, async (servers) => {
      for (const server of servers) {
        assertEquals((await call(server, "/healthz")).body, { status: "ok", db: "ok", cache: "ok" });
      }
      assertEquals(await admins(env.DATABASE_URL), [admin.ADMIN_EMAIL]);
      const login = await call(
        servers[0],
        api("/users/login/"),
        json({ email: admin.ADMIN_EMAIL, password: admin.ADMIN_PASSWORD }),
      );
      assertEquals(login.status, 200);
    });
  }
});

Deno.test("start-up – ADMIN_EMAIL never promotes an account registered first with another password: one error line, and the instances serve on", async () => {
  const env = await deployment();
  const squatter = {
    username: "squatter",
    email: admin.ADMIN_EMAIL,
    password: "squatter-pass",
    password2: "squatter-pass",
  };
  await together(1, env, async ([server]) => {
    assertEquals((await call(server, api("/users/"), json(squatter))).status, 201);
  });

  await together(2, { ...env, ...admin }, async (servers) => {
    for (const server of servers) {
      assertEquals((await call(server, "/healthz")).status, 200);
      // Log lines go out in batches a few milliseconds apart.
      for (let waited = 0; errorLines(server, admin.ADMIN_EMAIL).length === 0 && waited < 2000; waited += 20) {
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      assertEquals(errorLines(server, admin.ADMIN_EMAIL).length, 1, server.lines.join("\n"));
      assertMatch(errorLines(server, admin.ADMIN_EMAIL)[0], /not promoted/);
    }
    const login = await call(servers[0], api("/users/login/"), json(squatter));
    assertEquals(login.status, 200);
    const users = await call(servers[1], api("/users/"), { headers: { Authorization: `Bearer ${login.body.access}` } });
    assertEquals(users.status, 403, "the squatter is no admin");
    const asAdmin = await call(
      servers[0],
      api("/users/login/"),
      json({ email: admin.ADMIN_EMAIL, password: admin.ADMIN_PASSWORD }),
    );
    assertEquals(asAdmin.status, 401, "ADMIN_PASSWORD did not replace the squatter's password");
  });
  assertEquals(await admins(env.DATABASE_URL), []);

  const refused = await runTask(["create-admin", "--email", admin.ADMIN_EMAIL, "--password", "another-password"], env);
  assertEquals(refused.code, 1, refused.output);
  assertMatch(refused.output, new RegExp(`refused: ${admin.ADMIN_EMAIL}.*not promoted`));
  assertEquals(await admins(env.DATABASE_URL), []);

  const owner = await runTask(["create-admin", "--email", admin.ADMIN_EMAIL, "--password", squatter.password], env);
  assertEquals(owner.code, 0, owner.output);
  assertMatch(owner.output, /admin promoted/);
  assertEquals(await admins(env.DATABASE_URL), [admin.ADMIN_EMAIL]);
});

Deno.test("start-up – an ADMIN_PASSWORD over 72 bytes is refused, by the server and by create-admin", async () => {
  const env = await deployment();
  const tooLong = "é".repeat(37); // 37 characters, 74 bytes
  // Started as a server (not run to its end) so that a server accepting the password fails this test, not hangs it.
  const refusal = await startServer({ ...env, ...admin, ADMIN_PASSWORD: tooLong }).then(
    async (server) => void await stopServer(server),
    (error: Error) => error.message,
  );
  assertMatch(refusal ?? "the server started", /ADMIN_PASSWORD: must be at most 72 bytes/);

  const task = await runTask(["create-admin", "--email", admin.ADMIN_EMAIL, "--password", tooLong], env);
  assertEquals(task.code, 2, task.output);
  assertMatch(task.output, /72 bytes/);
});

Deno.test("start-up – a database that cannot be used stops the server with one line naming its host and port and what failed, never the password", async (t) => {
  const password = "never-printed-secret";
  /** Runs the server on `databaseUrl` to its end: it must exit 1 with one line, which is returned. */
  async function refusal(databaseUrl: string, env: Record<string, string> = {}) {
    const { code, lines } = await runToExit({ JWT_SECRET: jwtSecret, DATABASE_URL: databaseUrl, ...env });
    assertEquals([code, lines.length], [1, 1], lines.join("\n"));
    assert(!lines[0].includes(password), lines[0]);
    return lines[0];
  }
  const at = (port: number) => `^cannot open the database at 127\\.0\\.0\\.1:${port} \\(DATABASE_URL\\): `;

  await t.step("nothing listens at the address", async () => {
    const port = freePort();
    assertMatch(
      await refusal(`postgres://u:${password}@127.0.0.1:${port}/x`),
      new RegExp(`${at(port)}connection refused`),
    );
  });

  await t.step("something listens but never answers", async () => {
    const silent = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const held: Deno.Conn[] = [];
    const accepting = (async () => {
      for await (const conn of silent) held.push(conn);
    })().catch(() => {});
    try {
      const { port } = silent.addr;
      assertMatch(await refusal(`postgres://u:${password}@127.0.0.1:${port}/x`), new RegExp(`${at(port)}no answer`));
    } finally {
      silent.close();
      held.forEach((conn) => conn.close());
      await accepting;
    }
  });

  const { postgres: cluster } = await startTestServers();
  await t.step("the password is refused", async () => {
    const guarded = await startPgBouncer(cluster.port, { password: "the-right-one" });
    try {
      const url = new URL(guarded.url(await freshDatabase()));
      url.password = password;
      const line = await refusal(url.href, { DB_POOLER: "transaction" });
      assertMatch(line, new RegExp(`${at(guarded.port)}.*password authentication failed`));
    } finally {
      await guarded.stop();
    }
  });

  await t.step("a transaction pooler refuses the statement timeout in the startup message", async () => {
    const pooler = await startTestPooler();
    const line = await refusal(pooler.url(await freshDatabase()), { DB_POOLER: "none" });
    assertMatch(
      line,
      new RegExp(`${at(pooler.port)}unsupported startup parameter: statement_timeout .*DB_POOLER=transaction`),
    );
  });
});
