import { assert, assertEquals } from "./support/assert.ts";
import { type Reply, type TestContext, withContext } from "./support/app.ts";
import { assertProblem } from "./support/problems.ts";
import { book, bookConfirmed, booking, confirm } from "./support/reservations.ts";
import { delay } from "../harness/process.ts";
import { DelayProxy } from "../harness/delay-proxy.ts";
import { freshDatabase, startTestServers } from "../harness/servers.ts";
import { startUpstashProxy } from "../harness/upstash-proxy.ts";
import { createApp } from "../src/app.ts";
import { type Cache, MemoryCache, UpstashCache } from "../src/platform/cache.ts";
import { openDatabase } from "../src/platform/db.ts";
import { silentLogger } from "../src/platform/logger.ts";
import { issueTokens } from "../src/auth/tokens.ts";
import { capacityDrift } from "../src/reservations/capacity.ts";
import { api } from "../harness/paths.ts";

/** A request with how long it took. */
async function timed(request: () => Promise<Reply>): Promise<Reply & { ms: number }> {
  const started = performance.now();
  const reply = await request();
  return { ...reply, ms: performance.now() - started };
}

/** A TCP endpoint that accepts connections and never answers: a dependency that hangs rather than refuses. */
function blackHole() {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  const accepting = (async () => {
    for await (const conn of listener) held.push(conn);
  })();
  return {
    port: listener.addr.port,
    async close() {
      listener.close();
      await accepting.catch(() => {});
      for (const conn of held) conn.close();
    },
  };
}

/**
 * The app of `t` (same database, clock and secret) over another cache, with a JSON client like `t.request`:
 * the test context always uses the shared Upstash proxy, and these tests need one of their own to break.
 */
function appWithCache(t: TestContext, cache: Cache) {
  const app = createApp({ config: t.config, sql: t.sql, cache, clock: t.clock.read, logger: silentLogger });
  return async (method: string, path: string, { token, body }: { token?: string; body?: unknown } = {}) => {
    const headers: Record<string, string> = { "Content-Type": "application/json" };
    if (token) headers.Authorization = `Bearer ${token}`;
    const response = await app.request(`http://api.test${path}`, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : null } as Reply;
  };
}

/** Serves `t.app` on a loopback port, as main.ts does, so clients can hang up on it. */
function serve(t: TestContext) {
  return Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, t.app.fetch);
}

/** Opens a raw connection, writes `bytes` and hangs up without reading a reply. */
async function sendAndHangUp(port: number, text: string) {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const bytes = new TextEncoder().encode(text);
  for (let written = 0; written < bytes.length;) written += await conn.write(bytes.subarray(written));
  conn.close();
}

Deno.test("a PostgreSQL restart under load: fast 503s during the outage, recovery by itself, nothing confirmed lost", async () => {
  await withContext({}, async (t) => {
    const { postgres } = await startTestServers();
    const admin = await t.admin();
    const bookers = await Promise.all(Array.from({ length: 4 }, () => t.customer()));
    const replies: (Reply & { ms: number; phase: string })[] = [];
    const created: number[] = [];
    const confirmed: number[] = [];
    let phase = "before";
    let running = true;

    const client = async (worker: number) => {
      for (let i = 0; running; i++) {
        const day = 10 + ((worker * 7 + i) % 18);
        const body = booking(`2027-04-${day}T${String((worker * 5 + i) % 22).padStart(2, "0")}:00:00Z`, 2, 700);
        const create = await timed(() =>
          t.request("POST", api("/reservations/"), { token: bookers[worker % 4].access, body })
        );
        replies.push({ ...create, phase });
        if (create.status === 201) {
          created.push(create.body.id);
          const confirmation = await timed(() => confirm(t, admin.access, create.body.id));
          replies.push({ ...confirmation, phase });
          if (confirmation.status === 200) confirmed.push(create.body.id);
        }
        await delay(15);
      }
    };
    const clients = Array.from({ length: 6 }, (_, worker) => client(worker));

    await delay(400);
    phase = "outage";
    await postgres.stop();
    const health = await t.request("GET", "/healthz");
    await delay(1_000);
    await postgres.start();
    phase = "after";
    const restartedAt = replies.length;
    const deadline = Date.now() + 15_000;
    while (!replies.slice(restartedAt).some((r) => r.status === 200) && Date.now() < deadline) await delay(50);
    running = false;
    await Promise.all(clients);

    assertEquals(health.status, 503);
    assertEquals(health.body, { status: "down", db: "down", cache: "ok" });
    const outage = replies.filter((r) => r.status === 503);
    assert(outage.length > 0, "no request met the outage");
    for (const reply of outage) assertProblem(reply, 503, "SERVICE_UNAVAILABLE");
    for (const reply of replies) {
      const outcome = reply.status < 300 ? reply.status : `${reply.status} ${reply.body.code}`;
      assert([201, 200, "409 CAPACITY_EXCEEDED", "503 SERVICE_UNAVAILABLE"].includes(outcome), String(outcome));
      // The service's bound: a connect is given 2 s (connect_timeout), after at most one 0.5 s reconnect backoff.
      // Most requests fail far faster; a loaded machine may stretch the odd one, so one in twenty may take over 1 s.
      assert(reply.ms < 3_000, `a request took ${Math.round(reply.ms)} ms (${reply.phase}, ${outcome})`);
    }
    const slow = replies.filter((reply) => reply.ms >= 1_000);
    assert(slow.length <= replies.length / 20, `${slow.length} of ${replies.length} requests took over a second`);
    assert(replies.slice(restartedAt).some((r) => r.status === 200), "the service did not recover by itself");

    const rows = await t.sql<{ id: number; status: string }[]>`
      SELECT id, status FROM reservations WHERE id = ANY(${created})`;
    const statusOf = new Map(rows.map((row) => [row.id, row.status]));
    for (const id of created) assert(statusOf.has(id), `created reservation ${id} is gone`);
    for (const id of confirmed) assertEquals(statusOf.get(id), "confirmed", `confirmed reservation ${id} was lost`);
    assertEquals(await capacityDrift(t.sql, t.config), []);
    assertEquals((await t.request("GET", "/healthz")).status, 200);
  });
});

Deno.test("a PostgreSQL that accepts connections but never answers gets 503s within the 2 s connect timeout", async () => {
  await withContext({}, async (t) => {
    // Opened while it answers (openDatabase runs a first statement), then it hangs: every connection is new again.
    const hole = new DelayProxy(await freshDatabase(), { delayMs: 0 });
    const database = await openDatabase({ DATABASE_URL: hole.url, DATA_DIR: "", DB_POOL_MAX: 5 });
    hole.hang();
    try {
      const app = createApp({
        config: t.config,
        sql: database.sql,
        cache: new MemoryCache(),
        clock: t.clock.read,
        logger: silentLogger,
      });
      const { access } = await issueTokens({ ...t, clock: t.clock.read }, 1);
      const started = performance.now();
      const [health, ...replies] = await Promise.all([
        app.request("/healthz"),
        ...Array.from(
          { length: 4 },
          () => app.request(api("/users/me/"), { headers: { Authorization: `Bearer ${access}` } }),
        ),
      ]);
      assertEquals(health.status, 503);
      assertEquals((await health.json()).db, "down");
      for (const response of replies) {
        const body = await response.json();
        assertProblem({ status: response.status, headers: response.headers, body }, 503, "SERVICE_UNAVAILABLE");
      }
      assert(performance.now() - started < 3_000, "the requests outlived the 2 s connect timeout");
    } finally {
      await database.close();
      await hole.stop();
    }
  });
});

Deno.test("with the Upstash endpoint down, revocation checks fail closed, rate limits fail open, /healthz reports it", async () => {
  await withContext({}, async (t) => {
    const { redis } = await startTestServers();
    const proxy = await startUpstashProxy(redis.port);
    const call = appWithCache(t, new UpstashCache(proxy.url, proxy.token));
    const alice = await t.customer();
    await proxy.stop();

    const replies = {
      refresh: await timed(() => call("POST", api("/users/login/refresh/"), { body: { refresh: alice.refresh } })),
      logout: await timed(() =>
        call("POST", api("/users/logout/"), { token: alice.access, body: { refresh: alice.refresh } })
      ),
      login: await timed(() => call("POST", api("/users/login/"), { body: alice })),
      wrongPassword: await timed(() =>
        call("POST", api("/users/login/"), { body: { email: alice.email, password: "not-the-password" } })
      ),
      me: await timed(() => call("GET", api("/users/me/"), { token: alice.access })),
      health: await timed(() => call("GET", "/healthz")),
    };
    assertProblem(replies.refresh, 503, "SERVICE_UNAVAILABLE");
    assertProblem(replies.logout, 503, "SERVICE_UNAVAILABLE");
    assertEquals(replies.login.status, 200);
    assertProblem(replies.wrongPassword, 401, "INVALID_CREDENTIALS");
    assertEquals(replies.me.status, 200);
    assertEquals(replies.health.status, 503);
    assertEquals(replies.health.body, { status: "down", db: "ok", cache: "down" });
    for (const [name, reply] of Object.entries(replies)) assert(reply.ms < 2_500, `${name} took ${reply.ms} ms`);

    // The token the failed refresh carried was never spent: it still works once the cache is back.
    assertEquals(
      (await t.request("POST", api("/users/login/refresh/"), { body: { refresh: alice.refresh } })).status,
      200,
    );
  });
});

Deno.test("an Upstash endpoint that never answers cannot hang logins or token checks", async () => {
  await withContext({}, async (t) => {
    const hole = blackHole();
    try {
      const call = appWithCache(t, new UpstashCache(`http://127.0.0.1:${hole.port}`, "token"));
      const alice = await t.customer();
      const refresh = await timed(() =>
        call("POST", api("/users/login/refresh/"), { body: { refresh: alice.refresh } })
      );
      const login = await timed(() => call("POST", api("/users/login/"), { body: alice }));
      const health = await timed(() => call("GET", "/healthz"));
      assertProblem(refresh, 503, "SERVICE_UNAVAILABLE");
      assertEquals(login.status, 200);
      assertEquals(health.body.cache, "down");
      for (const reply of [refresh, login, health]) assert(reply.ms < 3_000, `took ${Math.round(reply.ms)} ms`);
    } finally {
      await hole.close();
    }
  });
});

Deno.test("a client hanging up halfway through its request body leaves no user behind", async () => {
  await withContext({}, async (t) => {
    const server = serve(t);
    try {
      const body = JSON.stringify({
        username: "halfway",
        email: "halfway@example.test",
        password: "halfway-password",
        password2: "halfway-password",
      });
      const head = `POST ${api("/users/")} HTTP/1.1\r\nHost: api.test\r\nContent-Type: application/json\r\n` +
        `Content-Length: ${body.length}\r\n\r\n`;
      await sendAndHangUp(server.addr.port, head + body.slice(0, body.length - 10));
      await delay(200);
      const [{ count }] = await t.sql`SELECT count(*)::int AS count FROM users WHERE username = 'halfway'`;
      assertEquals(count, 0);
      const reply = await fetch(`http://127.0.0.1:${server.addr.port}/healthz`);
      assertEquals(reply.status, 200, "the server still serves");
      await reply.body?.cancel();
    } finally {
      await server.shutdown();
    }
  });
});

Deno.test("clients hanging up on their confirmations leave each reservation wholly confirmed or untouched", async () => {
  await withContext({}, async (t) => {
    const admin = await t.admin();
    const booker = await t.customer();
    const slot = "2027-04-15T14:00:00Z";
    await bookConfirmed(t, booker.access, admin.access, booking(slot, 1, 1_000));
    const pending = await Promise.all(
      Array.from({ length: 30 }, (_, i) => book(t, booker.access, booking(slot, 1 + (i % 3), 2_500))),
    );
    const server = serve(t);
    let release!: () => void;
    const held = new Promise<void>((resolve) => release = resolve);
    // Holding the slot's lock keeps every confirmation waiting inside its transaction while its client leaves.
    const blocker = t.sql.begin(async (tx) => {
      await tx`SELECT confirmed FROM slot_usage WHERE slot_start = ${slot} FOR UPDATE`;
      await held;
    });
    try {
      await Promise.all(pending.map((r) =>
        sendAndHangUp(
          server.addr.port,
          `POST ${api(`/reservations/${r.id}/confirm/`)} HTTP/1.1\r\nHost: api.test\r\n` +
            `Authorization: Bearer ${admin.access}\r\nContent-Length: 0\r\n\r\n`,
        )
      ));
      await delay(300);
      release();
      await blocker;
    } finally {
      await server.shutdown();
    }
    const rows = await t.sql<{ status: string; confirmed_at: Date | null }[]>`
      SELECT status, confirmed_at FROM reservations WHERE id = ANY(${pending.map((r) => r.id)})`;
    for (const row of rows) assertEquals(row.status === "confirmed", row.confirmed_at !== null);
    assertEquals(await capacityDrift(t.sql, t.config), []);
  });
});

Deno.test("a confirmation aborted halfway through its transaction is a 503 and changes nothing", async () => {
  await withContext({}, async (t) => {
    const admin = await t.admin();
    const booker = await t.customer();
    const slot = "2027-04-16T09:00:00Z";
    await bookConfirmed(t, booker.access, admin.access, booking(slot, 1, 10_000));
    const victim = await book(t, booker.access, booking(slot, 2, 5_000));
    const counters = () => t.sql`SELECT slot_start, confirmed FROM slot_usage ORDER BY slot_start`;
    const before = await counters();

    let release!: () => void;
    const held = new Promise<void>((resolve) => release = resolve);
    const blocker = t.sql.begin(async (tx) => {
      await tx`SELECT confirmed FROM slot_usage WHERE slot_start = ${slot} FOR UPDATE`;
      await held;
    });
    const reply = confirm(t, admin.access, victim.id);
    try {
      // The confirmation has marked its reservation and, claiming its slots at COMMIT, waits for the slot lock: end its
      // session there.
      let waiting: { pid: number }[] = [];
      for (let tries = 0; waiting.length === 0 && tries < 100; tries++) {
        await delay(20);
        waiting = await t.sql<{ pid: number }[]>`
          SELECT pid FROM pg_stat_activity
          WHERE datname = current_database() AND wait_event_type = 'Lock' AND query ILIKE 'commit'`;
      }
      assertEquals(waiting.length, 1, "the confirmation never waited for the slot lock");
      await t.sql`SELECT pg_terminate_backend(${waiting[0].pid})`;
      assertProblem(await reply, 503, "SERVICE_UNAVAILABLE");
    } finally {
      release();
      await blocker;
    }

    const [row] = await t.sql`SELECT status, confirmed_at FROM reservations WHERE id = ${victim.id}`;
    assertEquals([row.status, row.confirmed_at], ["pending", null]);
    assertEquals(await counters(), before);
    assertEquals(await capacityDrift(t.sql, t.config), []);
    assertEquals((await confirm(t, admin.access, victim.id)).status, 200, "the pool recovered");
  });
});
