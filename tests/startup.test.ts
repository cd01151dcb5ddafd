import postgres from "postgres";
import { assert, assertEquals, assertMatch } from "./support/assert.ts";
import {
  call,
  json,
  jwtSecret,
  readOnly,
  runTask,
  runTaskToExit,
  runToExit,
  type ServerProcess,
  startServer,
  startTask,
  stopServer,
} from "../harness/server-process.ts";
import { freshDatabase, startTestPooler, startTestServers } from "../harness/servers.ts";
import { startPgBouncer } from "../harness/pgbouncer.ts";
import { freePort, run } from "../harness/process.ts";
import { api } from "../harness/paths.ts";
import { serverArgs, serverPermissions } from "../src/tasks/start.ts";
import { serverLockPath, serverLockText } from "../tools/server-lock.ts";

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

/** A fresh temporary folder for `body`, removed afterwards. */
async function inTempDir(body: (dir: string) => Promise<void>) {
  const dir = await Deno.makeTempDir({ prefix: "exam-slots-startup-" });
  try {
    await body(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

const exists = (path: string) => Deno.stat(path).then(() => true, () => false);

/** The start refused with exactly one line matching `pattern`, and exit code 1. */
function assertOneLine({ code, lines }: { code: number; lines: string[] }, pattern: RegExp) {
  assertEquals(lines.length, 1, lines.join("\n"));
  assertMatch(lines[0], pattern);
  assertEquals(code, 1, lines[0]);
}

Deno.test("start-up – a port in use is one line naming it and what to do, before DATA_DIR or the database is touched", async () => {
  await inTempDir(async (dir) => {
    const taken = Deno.listen({ hostname: "0.0.0.0", port: 0 });
    try {
      const port = String(taken.addr.port);
      const dataDir = `${dir}/data`;
      const refused = await runToExit({ APP_ENV: "development", PORT: port, DATA_DIR: dataDir }, [
        ...readOnly,
        "--allow-write",
      ]);
      assertOneLine(refused, new RegExp(`^PORT=${port} is already in use .*: stop it, or choose another port`));
      assert(!await exists(dataDir), "DATA_DIR was made for a start that could not listen");
    } finally {
      taken.close();
    }
  });
});

Deno.test("start-up – an unusable DATA_DIR is one line naming it and what to do", async () => {
  await inTempDir(async (dir) => {
    const file = `${dir}/a-file`;
    await Deno.writeTextFile(file, "not a folder");
    const foreign = `${dir}/notes`;
    await Deno.mkdir(foreign);
    await Deno.writeTextFile(`${foreign}/todo.txt`, "mine");
    const start = (dataDir: string) => runTaskToExit({ DATA_DIR: dataDir }, dir);
    assertOneLine(
      await start(file),
      new RegExp(`^DATA_DIR=${file} is a file, or inside one: point DATA_DIR at a folder`),
    );
    assertOneLine(await start(`${file}/data`), /is a file, or inside one/);
    assertOneLine(
      await start(foreign),
      new RegExp(`^DATA_DIR=${foreign} holds other files \\(todo.txt\\) and no database: point DATA_DIR at a new`),
    );
    assertEquals([...Deno.readDirSync(foreign)].map((entry) => entry.name), ["todo.txt"], "the folder is untouched");
    assertOneLine(await start(`${dir}/a,b`), /^DATA_DIR=.*a,b has a comma, which Deno's permission lists cannot hold/);
  });
});

Deno.test("start-up – a .env that cannot be read is one line, before the server runs", async () => {
  await inTempDir(async (dir) => {
    await Deno.mkdir(`${dir}/.env`);
    assertOneLine(await runTaskToExit({}, dir), /^\.env cannot be read \(.*\): make it a readable file, or remove it$/);
  });
});

Deno.test("start-up – the server run without the task's permissions for DATA_DIR says how to start it", async () => {
  await inTempDir(async (dir) => {
    const narrow = ["--allow-net", "--allow-env", "--allow-sys", "--allow-read", "--allow-write=.data"];
    const refused = await runToExit({ APP_ENV: "development", DATA_DIR: `${dir}/data` }, narrow);
    assertOneLine(
      refused,
      new RegExp(`^DATA_DIR=${dir}/data is outside what this process may read and write: .*\`deno task start\``),
    );
    const bare = await runToExit({}, []);
    assertOneLine(bare, /^Requires env access: start the server with `deno task start`/);
  });
});

Deno.test("start-up – bad configuration is one line echoing every bad value, never a secret's", async () => {
  const secrets = { JWT_SECRET: "too-short-secret", ADMIN_PASSWORD: "short" };
  const refused = await runToExit({
    APP_ENV: "development",
    BCRYPT_COST: "abc",
    PORT: "eighty",
    DATABASE_URL: "postgres//exam:hunter2-password@db/exam",
    ADMIN_EMAIL: "boss@example.test",
    ...secrets,
  });
  assertOneLine(refused, /^invalid configuration: .* — fix them in the environment or in \.env \(\.env\.sample/);
  for (
    const expected of [
      'PORT="eighty": must be a number',
      'BCRYPT_COST="abc": must be a number',
      'DATABASE_URL="postgres//***@db/exam": must be a URL',
      "JWT_SECRET: must be at least 32 characters",
      "ADMIN_PASSWORD: must be at least 8 characters",
    ]
  ) assert(refused.lines[0].includes(expected), `${expected} in ${refused.lines[0]}`);
  for (const secret of ["too-short-secret", "hunter2"]) assert(!refused.lines[0].includes(secret), secret);
});

Deno.test("start-up – ADMIN_EMAIL without ADMIN_PASSWORD, or the reverse, is one line, not an admin-less start", async () => {
  assertOneLine(
    await runToExit({ APP_ENV: "development", ADMIN_EMAIL: "boss@example.test" }),
    /^invalid configuration: ADMIN_EMAIL="boss@example.test" is set without ADMIN_PASSWORD: set both .* or neither$/,
  );
  const reverse = await runToExit({ APP_ENV: "development", ADMIN_PASSWORD: "a-secret-password" });
  assertOneLine(reverse, /^invalid configuration: ADMIN_PASSWORD is set without ADMIN_EMAIL/);
  assert(!reverse.lines[0].includes("a-secret-password"));
});

Deno.test("start-up – `deno task start` reads ./.env, says so in one line, and the environment wins over it", async () => {
  await inTempDir(async (dir) => {
    const admin = { ADMIN_EMAIL: "first@example.test", ADMIN_PASSWORD: "first-admin-password" };
    // PORT is the harness's free port in the environment: the file's would be refused, as taken, if it won.
    const taken = Deno.listen({ hostname: "0.0.0.0", port: 0 });
    const file = [
      `ADMIN_EMAIL=${admin.ADMIN_EMAIL}`,
      `ADMIN_PASSWORD="${admin.ADMIN_PASSWORD}"`,
      `DATA_DIR=${dir}/data`,
      `PORT=${taken.addr.port}`,
      "# a comment, and a blank value, which sets nothing",
      "JWT_SECRET=",
    ];
    await Deno.writeTextFile(`${dir}/.env`, file.join("\n"));
    const server = await startTask({}, dir);
    try {
      const notices = server.lines.filter((line) => line.includes(".env"));
      assertEquals(notices, [`read ${dir}/.env (3 of its variables used): the environment wins over it for PORT`]);
      const login = await call(
        server,
        api("/users/login/"),
        json({ email: admin.ADMIN_EMAIL, password: admin.ADMIN_PASSWORD }),
      );
      assertEquals(login.status, 200, "the admin of .env was made");
      assert(await exists(`${dir}/data/PG_VERSION`), "the embedded database is in the DATA_DIR of .env");
    } finally {
      await stopServer(server);
      taken.close();
    }
  });
});

Deno.test("start-up – a copy of .env.sample as .env starts as it stands", async () => {
  await inTempDir(async (dir) => {
    await Deno.copyFile(new URL("../.env.sample", import.meta.url), `${dir}/.env`);
    const server = await startTask({ DATA_DIR: `${dir}/data` }, dir);
    try {
      assertEquals((await call(server, "/healthz")).status, 200);
      assertMatch(server.lines[0], new RegExp(`^read ${dir}/.env \\(\\d+ of its variables used\\): .*DATA_DIR, PORT$`));
    } finally {
      await stopServer(server);
    }
  });
});

Deno.test("start-up – without a .env `deno task start` starts as before, and says nothing of one", async () => {
  await inTempDir(async (dir) => {
    const server = await startTask({ DATA_DIR: `${dir}/data` }, dir);
    try {
      assertEquals((await call(server, "/healthz")).status, 200);
      assertEquals(server.lines.filter((line) => line.includes(".env")), []);
    } finally {
      await stopServer(server);
    }
    assertEquals((await server.exited).code, 0, "SIGTERM reached the server through the task, which exited with it");
  });
});

Deno.test("start-up – DATA_DIR works wherever it points, under `deno task start` and `deno task dev`, and keeps its data", async () => {
  await inTempDir(async (dir) => {
    const env = { DATA_DIR: `${dir}/somewhere/else`, JWT_SECRET: jwtSecret };
    const user = { username: "kept", email: "kept@example.test", password: "kept-password" };
    const first = await startTask(env, dir);
    try {
      assertEquals((await call(first, api("/users/"), json({ ...user, password2: user.password }))).status, 201);
    } finally {
      await stopServer(first);
    }
    const second = await startTask(env, dir, "dev");
    try {
      assertEquals((await call(second, api("/users/login/"), json(user))).status, 200);
    } finally {
      await stopServer(second);
    }
  });
});

Deno.test("start-up – the server may read only DATA_DIR, migrations/, node_modules/ and the password worker, and write only DATA_DIR", () => {
  const root = new URL("..", import.meta.url).pathname;
  assertEquals(serverPermissions("/srv/exam-data"), [
    "--allow-net",
    "--allow-env",
    "--allow-sys",
    `--allow-read=/srv/exam-data,${root}migrations,${root}node_modules,${root}src/auth/password-worker.ts`,
    "--allow-write=/srv/exam-data",
  ]);
  assert(serverArgs(".data", { watch: true }).includes("--watch"), "deno task dev watches");
  assert(!serverArgs(".data").includes("--watch"));
});

Deno.test("start-up – the log says where the docs are, and GET / points to them (or says they are off)", async () => {
  await inTempDir(async (dir) => {
    const server = await startTask({ DATA_DIR: `${dir}/data` }, dir);
    try {
      const port = new URL(server.url).port;
      const listening = server.lines.find((line) => line.includes('"listening"'));
      assertEquals(JSON.parse(listening ?? "{}").docs, `http://localhost:${port}/docs`);
      const index = await call(server, "/");
      assertEquals([index.status, index.body.docs, index.body.openapi], [200, "/docs", "/openapi.json"]);
    } finally {
      await stopServer(server);
    }
  });
  const production = await startServer({ JWT_SECRET: jwtSecret, DATABASE_URL: await freshDatabase() });
  try {
    const index = await call(production, "/");
    assertEquals([index.status, index.body.docs], [200, null]);
    assertMatch(index.body.detail, /docs are off .*DOCS_ENABLED=true/);
  } finally {
    await stopServer(production);
  }
});

Deno.test("start-up – `deno task start` installs only the server's packages: its lockfile is deno.lock cut to `imports`", async () => {
  const committed = await Deno.readTextFile(serverLockPath);
  assert(committed === await serverLockText(), "deno.server.lock is stale: deno task server-lock");
  const packages = Object.keys(JSON.parse(committed).npm);
  for (const devOnly of ["fast-check", "playwright-core", "openapi-typescript", "typescript"]) {
    assert(!packages.some((key) => key.startsWith(`${devOnly}@`)), `${devOnly} would be installed by deno task start`);
  }
  assert(serverArgs(".data").includes(`--lock=${serverLockPath.pathname}`), "the server runs with it");
  // Frozen: the server's whole module graph resolves from that lockfile alone.
  const main = new URL("../src/main.ts", import.meta.url).pathname;
  await run(Deno.execPath(), ["cache", "--frozen", `--lock=${serverLockPath.pathname}`, main]);
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
