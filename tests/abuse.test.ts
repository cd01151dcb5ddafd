import fc from "fast-check";
import { sign } from "hono/jwt";
import { assert, assertEquals } from "./support/assert.ts";
import { backends, type Reply, type TestContext, withContext } from "./support/app.ts";
import { assertProblem } from "./support/problems.ts";
import { book, bookConfirmed, booking, confirm } from "./support/reservations.ts";
import { operations } from "./support/spec.ts";
import { cacheKeys } from "./support/cache-keys.ts";
import { createApp } from "../src/app.ts";
import { type Cache, MemoryCache, UpstashCache } from "../src/platform/cache.ts";
import { silentLogger } from "../src/platform/logger.ts";
import { clientsHashing } from "../src/auth/rate-limits.ts";
import { api } from "../harness/paths.ts";
import { startRedis } from "../harness/redis.ts";
import { startUpstashProxy } from "../harness/upstash-proxy.ts";
import { RespConnection } from "../harness/resp.ts";

/** Rows of every table the API writes, to show a refused request changed nothing. */
async function snapshot(t: TestContext) {
  return {
    users: await t.sql`SELECT * FROM users ORDER BY id`,
    reservations: await t.sql`SELECT * FROM reservations ORDER BY id`,
    slots: await t.sql`SELECT * FROM slot_usage ORDER BY slot_start`,
    events: await t.sql`SELECT * FROM reservation_events ORDER BY id`,
    keys: await t.sql`SELECT * FROM idempotency_keys ORDER BY scope, key`,
  };
}

type App = { request: TestContext["app"]["request"] };

/** A POST from a given client address, as Deno.serve passes it to the app (`t.app`, or another built on its database). */
async function from(
  t: TestContext | App,
  address: string,
  path: string,
  body: unknown,
  headers: Record<string, string> = {},
) {
  const app = "app" in t ? t.app : t;
  const response = await app.request(`http://api.test${path}`, {
    method: "POST",
    headers: { "Content-Type": "application/json", ...headers },
    body: JSON.stringify(body),
  }, { remoteAddr: { transport: "tcp", hostname: address, port: 50_000 } });
  return { status: response.status, headers: response.headers, body: await response.json() } as Reply;
}

/** The app of `t` (its database, clock and settings) with another cache. */
const appWithCache = (t: TestContext, cache: Cache) =>
  createApp({ config: t.config, sql: t.sql, cache, clock: t.clock.read, logger: silentLogger });

/** The statements `t`'s pool sends while `work` runs, as their text. */
async function statementsOf(t: TestContext, work: () => Promise<unknown>): Promise<string[]> {
  const sent: string[] = [];
  const options = t.sql.options as { debug: unknown };
  options.debug = (_connection: number, query: string) => sent.push(query);
  try {
    await work();
  } finally {
    options.debug = false;
  }
  return sent;
}

/** An email of 231 characters, the i-th of many. */
const longEmail = (i: number) => `u${i}-${"x".repeat(50)}@${"d".repeat(60)}.${"e".repeat(60)}.${"f".repeat(50)}.test`;

const signup = (name: string) => ({
  username: name,
  email: `${name}@example.test`,
  password: "long-enough-1",
  password2: "long-enough-1",
});

Deno.test("another customer's token gets 404 or 403 on every reservation and user route and changes nothing", async () => {
  await withContext({}, async (t) => {
    const admin = await t.admin();
    const alice = await t.customer();
    const mallory = await t.customer();
    const pending = await book(t, alice.access, booking("2027-04-20T10:00:00Z", 2, 300));
    const confirmed = await bookConfirmed(t, alice.access, admin.access, booking("2027-04-21T10:00:00Z", 2, 300));
    const targets = [...(await operations(t))].filter((op) => op.path.includes(":id"));
    assert(targets.length >= 6, "the spec lists the reservation and user routes by id");
    const before = await snapshot(t);

    for (const op of targets) {
      const ids = op.path.startsWith(api("/users")) ? [alice.id] : [pending.id, confirmed.id];
      for (const id of ids) {
        const reply = await t.request(op.method, op.path.replace(":id", String(id)), {
          token: mallory.access,
          body: op.body
            ? { headcount: 1, start_at: "2027-04-22T10:00:00Z", end_at: "2027-04-22T11:00:00Z" }
            : undefined,
        });
        assert([403, 404].includes(reply.status), `${op.method} ${op.path} #${id}: ${reply.status}`);
        assertProblem(reply);
      }
    }
    const listed = await t.request("GET", api(`/reservations/?user_id=${alice.id}`), { token: mallory.access });
    assertEquals(listed.body.results, []);
    const logout = await t.request("POST", api("/users/logout/"), {
      token: mallory.access,
      body: { refresh: alice.refresh },
    });
    assertProblem(logout, 401, "UNAUTHENTICATED");
    assertEquals(await snapshot(t), before);
  });
});

Deno.test("forged tokens of any header, claims and signature are 401, never a 500", async () => {
  await withContext({}, async (t) => {
    const alice = await t.customer();
    const now = Math.floor(t.clock.now.getTime() / 1000);
    const segment = (value: unknown) =>
      new TextEncoder().encode(JSON.stringify(value)).toBase64({ alphabet: "base64url", omitPadding: true });
    const claims = fc.record({
      sub: fc.oneof(fc.constant(String(alice.id)), fc.string(), fc.integer(), fc.constant(null)),
      typ: fc.oneof(fc.constantFrom("access", "refresh", "ACCESS", ""), fc.string()),
      exp: fc.oneof(fc.integer({ min: now - 10_000, max: now + 10_000 }), fc.string(), fc.constant(1e300)),
    }, { requiredKeys: [] });
    const header = fc.record({
      alg: fc.constantFrom("none", "None", "HS512", "HS384", "RS256", "ES256", "", "HS256"),
      typ: fc.constant("JWT"),
    }, { requiredKeys: [] });
    const unsigned = fc.tuple(header, claims, fc.oneof(fc.constant(""), fc.base64String())).map(([h, c, s]) =>
      `${segment(h)}.${segment(c)}.${s}`
    );
    // Valid claims under the wrong key, or under the right key with another algorithm (no algorithm confusion).
    const misSigned = fc.tuple(fc.constantFrom("HS256", "HS384", "HS512"), fc.boolean()).map(([alg, rightKey]) => ({
      alg: alg as "HS256" | "HS384" | "HS512",
      key: rightKey && alg !== "HS256" ? t.config.JWT_SECRET : "another-secret-of-enough-length-000000",
    }));
    // Anything a header can carry: printable ASCII and Latin-1 (the Request constructor refuses the rest).
    const latin1 = fc.integer({ min: 0x20, max: 0xff }).map((code) => String.fromCharCode(code));
    const garbage = fc.oneof(fc.string(), fc.string({ unit: latin1, maxLength: 2000 }), fc.constant("a.b.c"));

    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          unsigned.map((token) => ({ token })),
          misSigned.map((key) => ({ key })),
          garbage.map((junk) => ({ junk })),
        ),
        async (forged) => {
          let token: string;
          if ("key" in forged) {
            const payload = { sub: String(alice.id), typ: "access", iat: now, exp: now + 600 };
            token = await sign(payload, forged.key.key, forged.key.alg);
          } else token = "token" in forged ? forged.token : forged.junk;
          const response = await t.app.request(`http://api.test${api("/users/me/")}`, {
            headers: { Authorization: `Bearer ${token}` },
          });
          const reply = { status: response.status, headers: response.headers, body: await response.json() };
          assertProblem(reply, 401, "UNAUTHENTICATED");
        },
      ),
      { numRuns: 300 },
    );
  });
});

Deno.test("privileged and unknown fields in any body are ignored, never applied", async () => {
  await withContext({}, async (t) => {
    const alice = await t.customer();
    const privileged = [
      "is_admin",
      "id",
      "user_id",
      "status",
      "confirmed_at",
      "created_at",
      "updated_at",
      "date_joined",
      "password_hash",
    ];
    const extras = fc.dictionary(
      fc.oneof(fc.constantFrom(...privileged), fc.string({ maxLength: 20 })),
      fc.jsonValue({ maxDepth: 2 }),
      { maxKeys: 8 },
    );
    let serial = 0;
    await fc.assert(
      fc.asyncProperty(extras, fc.integer({ min: 0, max: 23 }), async (extra, hour) => {
        const name = `massassign${++serial}`;
        const user = await t.request("POST", api("/users/"), { body: { ...extra, ...signup(name) } });
        assertEquals(user.status, 201, JSON.stringify(user.body));
        const [row] = await t.sql`SELECT is_admin, id FROM users WHERE username = ${name}`;
        assertEquals([user.body.is_admin, row.is_admin, user.body.id], [false, false, row.id]);

        const window = booking(`2027-04-25T${String(hour).padStart(2, "0")}:00:00Z`, 1, 5);
        const created = await t.request("POST", api("/reservations/"), {
          token: alice.access,
          body: { ...extra, ...window },
        });
        assertEquals(created.status, 201, JSON.stringify(created.body));
        const patched = await t.request("PATCH", api(`/reservations/${created.body.id}/`), {
          token: alice.access,
          body: { ...extra, headcount: 6 },
        });
        for (const reply of [created, patched]) {
          assertEquals([reply.body.status, reply.body.user_id, reply.body.confirmed_at], ["pending", alice.id, null]);
          assertEquals(reply.body.created_at, t.clock.now.toISOString());
        }
        assertEquals(patched.body.headcount, 6);
      }),
      { numRuns: 60 },
    );
    const [{ confirmed }] = await t.sql`SELECT count(*)::int AS confirmed FROM reservations WHERE status <> 'pending'`;
    assertEquals(confirmed, 0);
  });
});

Deno.test("page_size over 100 is clamped to 100 on the reservation list", async () => {
  await withContext({}, async (t) => {
    const alice = await t.customer();
    await t.sql`
      INSERT INTO reservations (user_id, start_at, end_at, headcount)
      SELECT ${alice.id}, s, s + interval '1 hour', 1
      FROM generate_series('2027-05-01T00:00:00Z'::timestamptz, '2027-05-06T00:00:00Z', interval '1 hour') s`;
    for (const pageSize of ["101", "1000", "99999999999"]) {
      const reply = await t.request("GET", api(`/reservations/?page_size=${pageSize}`), { token: alice.access });
      assertEquals(reply.status, 200);
      assertEquals(reply.body.results.length, 100);
      assertEquals(reply.body.count, 121);
      assertEquals(new URL(reply.body.next).searchParams.get("page_size"), "100");
    }
  });
});

Deno.test("a body over the size limit is 413 on every route that takes one, before any authentication", async () => {
  await withContext({}, async (t) => {
    const alice = await t.customer();
    const oversized = JSON.stringify({ padding: "x".repeat(t.config.MAX_BODY_BYTES) });
    const withBodies = (await operations(t)).filter((op) => op.body !== undefined);
    assert(withBodies.length >= 5);
    for (const op of withBodies) {
      const path = op.path.replace(":id", "1");
      for (const token of [undefined, alice.access]) {
        assertProblem(await t.request(op.method, path, { token, body: oversized }), 413, "PAYLOAD_TOO_LARGE");
      }
    }
  });
});

Deno.test("the 21st registration from one address within an hour is 429 with Retry-After; other addresses are not held back", async () => {
  await withContext({}, async (t) => {
    const address = "198.51.100.7";
    for (let i = 0; i < 20; i++) {
      assertEquals((await from(t, address, api("/users/"), signup(`burst${i}`))).status, 201);
    }
    const limited = await from(t, address, api("/users/"), signup("burst20"));
    assertProblem(limited, 429, "RATE_LIMITED");
    assert(Number(limited.headers.get("Retry-After")) > 3000);
    assertEquals((await from(t, "198.51.100.8", api("/users/"), signup("neighbour"))).status, 201);
    const [{ count }] = await t.sql`SELECT count(*)::int AS count FROM users WHERE username = 'burst20'`;
    assertEquals(count, 0);
  });
});

Deno.test("X-Forwarded-For cannot dodge the registration limit unless a trusted proxy wrote its last hop", async () => {
  await withContext({ env: { REGISTER_LIMIT: "2" } }, async (t) => {
    const spoofed = (i: number) => ({ "X-Forwarded-For": `10.0.0.${i}` });
    const statuses = [];
    for (let i = 0; i < 4; i++) {
      statuses.push((await from(t, "198.51.100.20", api("/users/"), signup(`spoof${i}`), spoofed(i))).status);
    }
    assertEquals(statuses, [201, 201, 429, 429]);
  });
  await withContext({ env: { REGISTER_LIMIT: "2", TRUST_PROXY: "true" } }, async (t) => {
    const proxy = "10.1.1.1";
    const client = (first: string) => ({ "X-Forwarded-For": `${first}, 203.0.113.50` });
    const statuses = [];
    for (let i = 0; i < 3; i++) {
      statuses.push((await from(t, proxy, api("/users/"), signup(`behind${i}`), client(`10.9.9.${i}`))).status);
    }
    assertEquals(statuses, [201, 201, 429]);
    assertEquals((await from(t, proxy, api("/users/"), signup("other"), client("203.0.113.51"))).status, 429);
    assertEquals(
      (await from(t, proxy, api("/users/"), signup("other"), { "X-Forwarded-For": "203.0.113.51" })).status,
      201,
    );
  });
});

Deno.test("a burst of concurrent wrong passwords for one email gets at most 10 of them checked", async () => {
  await withContext({}, async (t) => {
    const victim = await t.customer();
    const replies = await Promise.all(
      Array.from(
        { length: 40 },
        () => t.request("POST", api("/users/login/"), { body: { email: victim.email, password: "guess-password" } }),
      ),
    );
    const checked = replies.filter((reply) => reply.status === 401).length;
    assert(checked <= 10, `${checked} guesses were checked`);
    for (const reply of replies.filter((reply) => reply.status !== 401)) assertProblem(reply, 429, "RATE_LIMITED");
  });
});

Deno.test("failed logins from one address cannot lock the account's owner out from another", async () => {
  await withContext({}, async (t) => {
    const victim = await t.customer("lockout-victim");
    const attacker = "203.0.113.66";
    const guess = (address: string, password: string) =>
      from(t, address, api("/users/login/"), { email: victim.email, password });
    const statuses = [];
    for (let i = 0; i < 12; i++) statuses.push((await guess(attacker, `guess-${i}`)).status);
    assertEquals(statuses, [...Array(10).fill(401), 429, 429]);
    assertProblem(await guess(attacker, victim.password), 429, "RATE_LIMITED");
    assertEquals((await guess("198.51.100.10", victim.password)).status, 200);
  });
});

Deno.test("past LOGIN_ADDRESS_LIMIT attempts from one address, whatever the emails, login is 429 before any hashing", async () => {
  await withContext({ env: { LOGIN_ADDRESS_LIMIT: "3", BCRYPT_COST: "12" } }, async (t) => {
    const attempt = async (address: string, email: string) => {
      const started = performance.now();
      const reply = await from(t, address, api("/users/login/"), { email, password: "a-guessed-password" });
      return { status: reply.status, ms: performance.now() - started };
    };
    const address = "203.0.113.77";
    const hashed = [];
    for (let i = 0; i < 3; i++) hashed.push(await attempt(address, `someone${i}@example.test`));
    const refused = [];
    for (let i = 3; i < 8; i++) refused.push(await attempt(address, `someone${i}@example.test`));
    assertEquals(hashed.map((a) => a.status), [401, 401, 401]);
    assertEquals(refused.map((a) => a.status), [429, 429, 429, 429, 429]);
    // One bcrypt comparison at cost 12 takes hundreds of milliseconds; a refusal takes a couple of cache calls.
    const slowestRefusal = Math.max(...refused.map((a) => a.ms));
    const fastestCheck = Math.min(...hashed.map((a) => a.ms));
    assert(slowestRefusal < fastestCheck / 4, `refused in ${slowestRefusal} ms, checked in ${fastestCheck} ms`);
    assertEquals((await attempt("203.0.113.78", "someone@example.test")).status, 401);
  });
});

Deno.test("an IPv6 client counts by its /64 against the login address limit", async () => {
  await withContext({ env: { LOGIN_ADDRESS_LIMIT: "2" } }, async (t) => {
    const attempt = async (address: string) =>
      (await from(t, address, api("/users/login/"), { email: "nobody@example.test", password: "guessing" })).status;
    assertEquals(await attempt("2001:db8:1:2::1"), 401);
    assertEquals(await attempt("2001:db8:1:2:ffff:ffff:ffff:ffff"), 401);
    assertEquals(await attempt("2001:db8:1:2:abcd::5"), 429);
    assertEquals(await attempt("2001:db8:1:3::1"), 401);
  });
});

Deno.test("a statement running past DB_STATEMENT_TIMEOUT_MS is cut off with 503, not left hanging", async () => {
  await withContext({ env: { DB_STATEMENT_TIMEOUT_MS: "300" } }, async (t) => {
    const admin = await t.admin();
    const alice = await t.customer();
    const pending = await book(t, alice.access, booking("2027-04-20T10:00:00Z", 1, 10));
    // Another session holds the reservation's row lock, so the confirmation's own lock waits on it.
    await t.sql.begin(async (tx) => {
      await tx`SELECT id FROM reservations WHERE id = ${pending.id} FOR UPDATE`;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const patience = new Promise<undefined>((resolve) => timer = setTimeout(() => resolve(undefined), 2_000));
      const reply = await Promise.race([confirm(t, admin.access, pending.id), patience]);
      clearTimeout(timer);
      assert(reply, "the confirmation was still waiting for the lock after 2 s");
      assertProblem(reply, 503, "SERVICE_UNAVAILABLE");
    });
    assertEquals((await confirm(t, admin.access, pending.id)).status, 200);
  });
});

Deno.test("a flood of /healthz shares one probe of the dependencies per second", async () => {
  await withContext({}, async (t) => {
    class CountingCache extends MemoryCache {
      pings = 0;
      override ping() {
        this.pings++;
        return super.ping();
      }
    }
    const cache = new CountingCache();
    const app = createApp({ config: t.config, sql: t.sql, cache, clock: t.clock.read, logger: silentLogger });
    const flood = await Promise.all(Array.from({ length: 50 }, () => app.request("/healthz")));
    for (let i = 0; i < 20; i++) flood.push(await app.request("/healthz"));
    assertEquals(flood.map((response) => response.status), Array(70).fill(200));
    assertEquals(cache.pings, 1);
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    assertEquals((await app.request("/healthz")).status, 200);
    assertEquals(cache.pings, 2);
  });
});

Deno.test("every route's responses, errors included, carry nosniff, a frame policy and a request id", async () => {
  await withContext({}, async (t) => {
    for (const op of await operations(t)) {
      const reply = await t.request(op.method, op.path.replace(":id", "1"), { body: op.body ? {} : undefined });
      assertEquals(reply.headers.get("x-content-type-options"), "nosniff", `${op.method} ${op.path}`);
      assertEquals(reply.headers.get("x-frame-options"), "SAMEORIGIN");
      assert(reply.headers.get("x-request-id"));
      assert(!reply.headers.has("x-powered-by"));
    }
  });
});

for (const backend of backends) {
  Deno.test(`every admin-only operation of /openapi.json, called by a customer, runs the session read alone and changes nothing (${backend})`, async () => {
    await withContext({ backend }, async (t) => {
      const alice = await t.customer("admin-routes-customer");
      const pending = await book(t, alice.access, booking("2027-04-20T10:00:00Z", 1, 10));
      const adminOnly = (await operations(t)).filter((op) => op.access === "admin");
      assert(adminOnly.length >= 3, `${adminOnly.length} admin-only operations in the spec`);
      const before = [await snapshot(t), await cacheKeys(t.cache)];
      for (const op of adminOnly) {
        const path = op.path.replace(":id", String(pending.id));
        let reply: Reply | undefined;
        const sent = await statementsOf(t, async () => {
          reply = await t.request(op.method, `${path}?page=5000&page_size=100`, {
            token: alice.access,
            body: op.body ? op.body.example ?? {} : undefined,
            headers: { "Idempotency-Key": `admin-only-${op.method}-${op.path}` },
          });
        });
        assertProblem(reply!, 403, "FORBIDDEN");
        assertEquals(sent.length, 1, `${op.method} ${op.path} ran ${sent.join(" | ")}`);
        assert(/FROM users\s+WHERE id = \$1\s+AND \(sessions_valid_after/.test(sent[0]), sent[0]);
      }
      assertEquals([await snapshot(t), await cacheKeys(t.cache)], before);
    });
  });

  Deno.test(`refused logins write nothing: a burst from one address leaves one counter per email it may try, each key under 80 bytes (${backend})`, async () => {
    await withContext({ backend, env: { LOGIN_ADDRESS_LIMIT: "20" } }, async (t) => {
      const address = "203.0.113.5";
      const statuses = [];
      for (let i = 0; i < 300; i++) {
        statuses.push(
          (await from(t, address, api("/users/login/"), { email: longEmail(i), password: "guess" })).status,
        );
      }
      assertEquals(statuses, [...Array(20).fill(401), ...Array(280).fill(429)]);
      const keys = await cacheKeys(t.cache, `login:{${address}}`);
      assertEquals(keys.length, 21, "an attempts counter and 20 failure counters");
      for (const key of keys) assert(new TextEncoder().encode(key).length < 80, key);
      assert(keys.every((key) => !key.includes("u1-")), "no key holds an email");
      assertEquals(await t.cache.take(`login:{${address}}:attempts`), "20", "the 280 refusals counted nowhere");
    });
  });

  Deno.test(`a customer's writes past WRITE_LIMIT a minute are 429 with Retry-After and leave nothing; admins, logins and refreshes are not limited (${backend})`, async () => {
    await withContext({ backend, env: { WRITE_LIMIT: "5" } }, async (t) => {
      // Every context of this file shares the test Redis, and user ids start at 1 in each database.
      for (const key of await cacheKeys(t.cache, "writes:")) await t.cache.take(key);
      const admin = await t.admin("write-limit-admin");
      const alice = await t.customer("write-limit-customer");
      const create = (token: string, hour: number) =>
        t.request("POST", api("/reservations/"), { token, body: booking(`2027-04-20T${10 + hour}:00:00Z`, 1, 1) });
      for (let i = 0; i < 5; i++) assertEquals((await create(alice.access, i)).status, 201);
      const rowsBefore = await snapshot(t);
      for (let i = 0; i < 5; i++) {
        const refused = await create(alice.access, 5);
        assertProblem(refused, 429, "RATE_LIMITED");
        const retryAfter = Number(refused.headers.get("Retry-After"));
        assert(retryAfter >= 1 && retryAfter <= 60, `Retry-After ${retryAfter}`);
      }
      assertProblem(await t.request("POST", api("/users/logout-all/"), { token: alice.access }), 429, "RATE_LIMITED");
      assertEquals(await snapshot(t), rowsBefore);
      assertEquals((await cacheKeys(t.cache, `writes:{user:${alice.id}}`)).length, 1);
      assertEquals((await t.request("GET", api("/reservations/"), { token: alice.access })).status, 200);
      const login = await t.request("POST", api("/users/login/"), {
        body: { email: alice.email, password: alice.password },
      });
      assertEquals(login.status, 200);
      const refresh = await t.request("POST", api("/users/login/refresh/"), { body: { refresh: login.body.refresh } });
      assertEquals(refresh.status, 200);
      for (let i = 0; i < 8; i++) assertEquals((await create(admin.access, i)).status, 201, "an admin is not limited");
      if (backend === "embedded") { // the memory cache keeps time by the test clock
        t.clock.advance(61);
        assertEquals((await create(alice.access, 6)).status, 201, "a new minute");
      }
    });
  });
}

Deno.test("at the memory cache's bound a flood from a thousand addresses does not evict an attacker's failures for a victim", async () => {
  await withContext({ backend: "embedded" }, async (t) => {
    const cache = new MemoryCache(() => t.clock.now.getTime(), { maxEntries: 300 });
    const app = appWithCache(t, cache);
    const victim = await t.customer("victim");
    const attacker = "203.0.113.66";
    const guess = (address: string, email: string) =>
      from(app, address, api("/users/login/"), { email, password: "guess" });
    for (let i = 0; i < 10; i++) assertEquals((await guess(attacker, victim.email)).status, 401);
    assertProblem(await guess(attacker, victim.email), 429, "RATE_LIMITED");
    for (let i = 0; i < 1000; i++) {
      assertEquals((await guess(`10.0.${i >> 8}.${i & 255}`, longEmail(i))).status, 401);
      assert(cache.size <= 300, `${cache.size} keys after ${i + 1} addresses`);
    }
    assertProblem(await guess(attacker, victim.email), 429, "RATE_LIMITED");
    const own = await from(app, "198.51.100.10", api("/users/login/"), {
      email: victim.email,
      password: victim.password,
    });
    assertEquals(own.status, 200);
  });
});

Deno.test("a Redis out of memory (noeviction) refuses logins and registrations with 503 rather than let guesses through; signed-in requests go on", async () => {
  await withContext({}, async (t) => {
    const alice = await t.customer("full-cache-customer");
    const redis = await startRedis();
    const connection = await RespConnection.open(redis.port);
    const proxy = await startUpstashProxy(redis.port);
    try {
      await connection.send([["CONFIG", "SET", "maxmemory-policy", "noeviction"], ["CONFIG", "SET", "maxmemory", "1"]]);
      const app = appWithCache(t, new UpstashCache(proxy.url, proxy.token));
      const address = "203.0.113.9";
      for (let i = 0; i < 3; i++) {
        const login = await from(app, address, api("/users/login/"), { email: alice.email, password: `guess-${i}` });
        assertProblem(login, 503, "SERVICE_UNAVAILABLE");
        assertEquals(login.headers.get("Retry-After"), "60");
      }
      assertProblem(await from(app, address, api("/users/"), signup("full-cache")), 503, "SERVICE_UNAVAILABLE");
      const request = (method: string, path: string, body?: unknown) =>
        app.request(`http://api.test${path}`, {
          method,
          headers: { Authorization: `Bearer ${alice.access}`, "Content-Type": "application/json" },
          body: body === undefined ? undefined : JSON.stringify(body),
        });
      assertEquals((await request("GET", api("/users/me/"))).status, 200);
      assertEquals((await request("POST", api("/reservations/"), booking("2027-04-20T10:00:00Z", 1, 1))).status, 201);
    } finally {
      connection.close();
      await proxy.stop();
      await redis.stop();
    }
  });
});

Deno.test("one address holds at most PASSWORD_HASHES_PER_ADDRESS password hashes in flight: the rest are 429 at once and count nowhere", async () => {
  await withContext({ env: { PASSWORD_HASHES_PER_ADDRESS: "2", BCRYPT_COST: "10" } }, async (t) => {
    const victim = await t.customer("hashed-victim");
    const address = "203.0.113.88";
    const burst = Array.from(
      { length: 12 },
      (_, i) => from(t, address, api("/users/login/"), { email: victim.email, password: `guess-${i}` }),
    );
    const neighbour = from(t, "198.51.100.44", api("/users/login/"), {
      email: victim.email,
      password: victim.password,
    });
    const replies = await Promise.all(burst);
    assertEquals(replies.map((reply) => reply.status).sort(), [401, 401, ...Array(10).fill(429)]);
    for (const reply of replies.filter((reply) => reply.status === 429)) assertProblem(reply, 429, "RATE_LIMITED");
    assertEquals((await neighbour).status, 200);
    assertEquals(await t.cache.take(`login:{${address}}:attempts`), "2", "the refused attempts counted nowhere");
    assertEquals(clientsHashing(), 0, "no address holds a place once its hashes are done");
  });
});
