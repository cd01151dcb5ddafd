import fc from "fast-check";
import { sign } from "hono/jwt";
import { assert, assertEquals } from "./support/assert.ts";
import { type Reply, type TestContext, withContext } from "./support/app.ts";
import { assertProblem } from "./support/problems.ts";
import { book, bookConfirmed, booking, confirm } from "./support/reservations.ts";
import { operations } from "./support/spec.ts";
import { createApp } from "../src/app.ts";
import { MemoryCache } from "../src/platform/cache.ts";
import { silentLogger } from "../src/platform/logger.ts";
import { api } from "../harness/paths.ts";

/** Rows of every table the API writes, to show a refused request changed nothing. */
async function snapshot(t: TestContext) {
  return {
    users: await t.sql`SELECT * FROM users ORDER BY id`,
    reservations: await t.sql`SELECT * FROM reservations ORDER BY id`,
    slots: await t.sql`SELECT * FROM slot_usage ORDER BY slot_start`,
  };
}

/** A request from a given client address, as Deno.serve passes it to the app. */
async function from(
  t: TestContext,
  address: string,
  path: string,
  body: unknown,
  headers: Record<string, string> = {},
) {
  const response = await t.app.request(`http://api.test${path}`, {
    method: "POST",
    headers: { "Content-Type": "application/json", ...headers },
    body: JSON.stringify(body),
  }, { remoteAddr: { transport: "tcp", hostname: address, port: 50_000 } });
  return { status: response.status, headers: response.headers, body: await response.json() } as Reply;
}

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
