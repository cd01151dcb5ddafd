// Safe retries (API v1.1): an Idempotency-Key makes a write safe to send again, whatever happened to its answer.
import { assert, assertEquals } from "./support/assert.ts";
import { backendsAndPooler, describeOnEveryBackend, type Reply, type TestContext, withContext } from "./support/app.ts";
import { assertProblem } from "./support/problems.ts";
import { book, bookConfirmed, booking, confirm, freshAccess } from "./support/reservations.ts";
import { capacityDrift } from "../src/reservations/capacity.ts";
import { loadConfig } from "../src/config.ts";
import { createApp } from "../src/app.ts";
import { silentLogger } from "../src/platform/logger.ts";
import { openDatabase } from "../src/platform/db.ts";
import { delay } from "../harness/process.ts";
import { call, jwtSecret, type ServerProcess, startServer, stopServer } from "../harness/server-process.ts";
import { postgresRoutes } from "../harness/servers.ts";
import { api } from "../harness/paths.ts";

// The test clock starts at 2027-04-01T00:00Z; every step books on a day of its own.

const replayed = (reply: Reply) => reply.headers.get("idempotent-replayed") === "true";

/** A request with an Idempotency-Key, as `t.request` takes it. */
function keyed(
  t: TestContext,
  method: string,
  path: string,
  key: string,
  options: { token?: string; body?: unknown; headers?: Record<string, string> } = {},
) {
  return t.request(method, path, { ...options, headers: { ...options.headers, "Idempotency-Key": key } });
}

async function reservationCount(t: TestContext, userId: number): Promise<number> {
  const [{ count }] = await t.sql`SELECT count(*)::int AS count FROM reservations WHERE user_id = ${userId}`;
  return count;
}

async function storedKeys(t: TestContext, key?: string): Promise<number> {
  const [{ count }] = await t.sql`
    SELECT count(*)::int AS count FROM idempotency_keys ${key === undefined ? t.sql`` : t.sql`WHERE key = ${key}`}`;
  return count;
}

describeOnEveryBackend("retries", async (step, t) => {
  const admin = await t.admin("root");
  const carol = await t.customer("carol");
  const dave = await t.customer("dave");
  const create = api("/reservations/");
  const reservation = (id: number) => api(`/reservations/${id}/`);

  await step("a create sent twice with one key makes one reservation; the repeat is marked replayed", async () => {
    const body = booking("2027-05-01T10:00:00Z", 2, 100);
    const before = await reservationCount(t, carol.id);
    const first = await keyed(t, "POST", create, "create-twice", { token: carol.access, body });
    assertEquals(first.status, 201);
    assert(!replayed(first));
    const again = await keyed(t, "POST", create, "create-twice", { token: carol.access, body });
    assertEquals([again.status, again.body, again.headers.get("etag")], [201, first.body, first.headers.get("etag")]);
    assert(replayed(again));
    const withoutSlash = await keyed(t, "POST", create.replace(/\/$/, ""), "create-twice", {
      token: carol.access,
      body,
    });
    assertEquals([withoutSlash.status, withoutSlash.body.id], [201, first.body.id]);
    assertEquals(await reservationCount(t, carol.id), before + 1);
  });

  await step("the same key sent by 20 concurrent clients makes exactly one reservation", async () => {
    const body = booking("2027-05-02T10:00:00Z", 1, 100);
    const before = await reservationCount(t, carol.id);
    const replies = await Promise.all(
      Array.from({ length: 20 }, () => keyed(t, "POST", create, "create-at-once", { token: carol.access, body })),
    );
    const created = replies.filter((reply) => reply.status === 201);
    const busy = replies.filter((reply) => reply.status !== 201);
    for (const reply of busy) assertProblem(reply, 409, "IDEMPOTENCY_KEY_IN_USE");
    assertEquals(created.filter((reply) => !replayed(reply)).length, 1);
    assertEquals(new Set(created.map((reply) => reply.body.id)).size, 1);
    assertEquals(await reservationCount(t, carol.id), before + 1);
    // Retried once the first has finished, every one of them gets its outcome.
    const retried = await keyed(t, "POST", create, "create-at-once", { token: carol.access, body });
    assertEquals([retried.status, retried.body.id, replayed(retried)], [201, created[0].body.id, true]);
  });

  await step("concurrent twins of a confirm, delete or registration never answer as if it had not run", async () => {
    /** Ten copies at once: one runs, the others are replayed or told to retry; never "not pending" or "not found". */
    const twins = async (send: () => Promise<Reply>, status: number) => {
      const replies = await Promise.all(Array.from({ length: 10 }, send));
      for (const reply of replies.filter((reply) => reply.status !== status)) {
        assertProblem(reply, 409, "IDEMPOTENCY_KEY_IN_USE");
      }
      assertEquals(replies.filter((reply) => reply.status === status && !replayed(reply)).length, 1);
    };
    const pending = await book(t, carol.access, booking("2027-05-02T12:00:00Z", 1, 100));
    const path = reservation(pending.id);
    await twins(() => keyed(t, "POST", `${path}confirm/`, "confirm-twins", { token: admin.access }), 200);
    await twins(() => keyed(t, "DELETE", path, "delete-twins", { token: admin.access }), 204);
    const body = { username: "fay", email: "fay@example.test", password: "fay-password", password2: "fay-password" };
    await twins(() => keyed(t, "POST", api("/users/"), "register-twins", { body }), 201);
  });

  await step("the key with another body, path or method is 422 IDEMPOTENCY_KEY_REUSED, changing nothing", async () => {
    const body = booking("2027-05-03T10:00:00Z", 1, 100);
    const first = await keyed(t, "POST", create, "reused", { token: carol.access, body });
    assertEquals(first.status, 201);
    const before = await reservationCount(t, carol.id);
    const other = await keyed(t, "POST", create, "reused", {
      token: carol.access,
      body: { ...body, headcount: 101 },
    });
    assertProblem(other, 422, "IDEMPOTENCY_KEY_REUSED");
    const patch = await keyed(t, "PATCH", reservation(first.body.id), "reused", { token: carol.access, body });
    assertProblem(patch, 422, "IDEMPOTENCY_KEY_REUSED");
    const remove = await keyed(t, "DELETE", reservation(first.body.id), "reused", { token: carol.access });
    assertProblem(remove, 422, "IDEMPOTENCY_KEY_REUSED");
    assertEquals(await reservationCount(t, carol.id), before);
    const unchanged = await t.request("GET", reservation(first.body.id), { token: carol.access });
    assertEquals(unchanged.body, first.body);
  });

  await step("a confirm replayed after its success gets the stored 200, not 409 RESERVATION_NOT_PENDING", async () => {
    const pending = await book(t, carol.access, booking("2027-05-04T10:00:00Z", 1, 100));
    const path = api(`/reservations/${pending.id}/confirm/`);
    const first = await keyed(t, "POST", path, "confirm-once", { token: admin.access });
    assertEquals([first.status, first.body.status], [200, "confirmed"]);
    const again = await keyed(t, "POST", path, "confirm-once", { token: admin.access });
    assertEquals([again.status, again.body, again.headers.get("etag")], [200, first.body, first.headers.get("etag")]);
    assert(replayed(again));
    const [slot] = await t.sql`SELECT confirmed FROM slot_usage WHERE slot_start = '2027-05-04T10:00:00Z'`;
    assertEquals(slot.confirmed, 100);
    // Without the key, a second confirmation is still refused.
    assertProblem(await confirm(t, admin.access, pending.id), 409, "RESERVATION_NOT_PENDING");
  });

  await step("another user's identical key is independent", async () => {
    const body = booking("2027-05-05T10:00:00Z", 1, 100);
    const carols = await keyed(t, "POST", create, "shared-key", { token: carol.access, body });
    const daves = await keyed(t, "POST", create, "shared-key", { token: dave.access, body });
    assertEquals([carols.status, daves.status], [201, 201]);
    assert(!replayed(daves));
    assertEquals([carols.body.user_id, daves.body.user_id], [carol.id, dave.id]);
    assert(carols.body.id !== daves.body.id);
  });

  await step("registering twice with one key makes one user", async () => {
    const body = {
      username: "erin",
      email: "erin@example.test",
      password: "erin-password",
      password2: "erin-password",
    };
    const first = await keyed(t, "POST", api("/users/"), "register-erin", { body });
    assertEquals(first.status, 201);
    const again = await keyed(t, "POST", api("/users/"), "register-erin", { body });
    assertEquals([again.status, again.body], [201, first.body]);
    assert(replayed(again));
    const [{ count }] = await t.sql`SELECT count(*)::int AS count FROM users WHERE email = 'erin@example.test'`;
    assertEquals(count, 1);
  });

  await step("a 409 or 404 outcome is stored and replayed, even once its cause is gone", async () => {
    const window = booking("2027-05-06T10:00:00Z", 1, 49_901);
    const full = await bookConfirmed(t, dave.access, admin.access, window);
    const body = { ...window, headcount: 100 };
    const refused = await keyed(t, "POST", create, "too-many", { token: carol.access, body });
    assertProblem(refused, 409, "CAPACITY_EXCEEDED");
    assertEquals((await t.request("DELETE", reservation(full.id), { token: admin.access })).status, 204);
    const again = await keyed(t, "POST", create, "too-many", { token: carol.access, body });
    assertEquals([again.status, again.body], [409, refused.body]);
    assert(replayed(again));
    await book(t, carol.access, body); // the same request without the key now fits

    const missing = await keyed(t, "PATCH", reservation(999_999), "missing", { token: carol.access, body: {} });
    assertProblem(missing, 404, "NOT_FOUND");
    const missingAgain = await keyed(t, "PATCH", reservation(999_999), "missing", { token: carol.access, body: {} });
    assertEquals([missingAgain.status, replayed(missingAgain)], [404, true]);
  });

  await step("a request refused before the rules (400, 401, 403, 412) stores nothing: the key runs again", async () => {
    const body = booking("2027-05-07T10:00:00Z", 1, 100);
    const invalid = await keyed(t, "POST", create, "after-400", {
      token: carol.access,
      body: { ...body, headcount: 0 },
    });
    assertProblem(invalid, 400, "VALIDATION_ERROR");
    const valid = await keyed(t, "POST", create, "after-400", { token: carol.access, body });
    assertEquals([valid.status, replayed(valid)], [201, false]);

    // A token whose session has ended passes the signature check but not the user read: 401 after the lookup.
    const erin = { email: "erin@example.test", password: "erin-password" };
    const ended = await freshAccess(t, erin);
    assertEquals((await t.request("POST", api("/users/logout-all/"), { token: ended })).status, 204);
    assertProblem(await keyed(t, "POST", create, "after-401", { token: ended, body }), 401, "UNAUTHENTICATED");
    const signedInAgain = await keyed(t, "POST", create, "after-401", { token: await freshAccess(t, erin), body });
    assertEquals([signedInAgain.status, replayed(signedInAgain)], [201, false]);

    const path = api(`/reservations/${valid.body.id}/confirm/`);
    assertProblem(await keyed(t, "POST", path, "after-403", { token: carol.access }), 403, "FORBIDDEN");
    assertEquals(await storedKeys(t, "after-403"), 0);

    const stale = await keyed(t, "PATCH", reservation(valid.body.id), "after-412", {
      token: carol.access,
      body: { headcount: 200 },
      headers: { "If-Match": '"0.0"' },
    });
    assertProblem(stale, 412, "PRECONDITION_FAILED");
    const fresh = await keyed(t, "PATCH", reservation(valid.body.id), "after-412", {
      token: carol.access,
      body: { headcount: 200 },
      headers: { "If-Match": valid.headers.get("etag")! },
    });
    assertEquals([fresh.status, fresh.body.headcount, replayed(fresh)], [200, 200, false]);
  });

  await step("a key of 256 characters, or with a control or non-ASCII character, is 400 VALIDATION_ERROR", async () => {
    const body = booking("2027-05-08T10:00:00Z", 1, 100);
    const before = await reservationCount(t, carol.id);
    for (const key of ["k".repeat(256), "tab\there", "delete\x7f", "caf\xe9"]) {
      const reply = await keyed(t, "POST", create, key, { token: carol.access, body });
      assertProblem(reply, 400, "VALIDATION_ERROR");
      assertEquals(reply.body.errors[0].path, "Idempotency-Key");
    }
    assertEquals(await reservationCount(t, carol.id), before);
    const longest = await keyed(t, "POST", create, `${"k".repeat(254)}~`, { token: carol.access, body });
    assertEquals(longest.status, 201);
  });

  await step("PATCH and DELETE with a key are replayed without applying twice", async () => {
    const created = await book(t, carol.access, booking("2027-05-09T10:00:00Z", 1, 100));
    const path = reservation(created.id);
    const patched = await keyed(t, "PATCH", path, "patch-20", { token: carol.access, body: { headcount: 20 } });
    assertEquals(patched.status, 200);
    const later = await t.request("PATCH", path, { token: carol.access, body: { headcount: 30 } });
    assertEquals(later.body.headcount, 30);
    const patchedAgain = await keyed(t, "PATCH", path, "patch-20", { token: carol.access, body: { headcount: 20 } });
    assertEquals([patchedAgain.status, patchedAgain.body, replayed(patchedAgain)], [200, patched.body, true]);
    assertEquals((await t.request("GET", path, { token: carol.access })).body.headcount, 30);

    const removed = await keyed(t, "DELETE", path, "delete-once", { token: carol.access });
    assertEquals(removed.status, 204);
    const removedAgain = await keyed(t, "DELETE", path, "delete-once", { token: carol.access });
    assertEquals([removedAgain.status, replayed(removedAgain)], [204, true]);
    assertProblem(await t.request("DELETE", path, { token: carol.access }), 404, "NOT_FOUND");
  });

  await step("a replay for a user deleted since is 401, never a reply marked Idempotent-Replayed", async () => {
    const gone = await t.customer("gone");
    const body = booking("2027-05-10T10:00:00Z", 1, 100);
    assertEquals((await keyed(t, "POST", create, "before-deletion", { token: gone.access, body })).status, 201);
    assertEquals((await t.request("DELETE", api(`/users/${gone.id}/`), { token: admin.access })).status, 204);
    const replay = await keyed(t, "POST", create, "before-deletion", { token: gone.access, body });
    assertProblem(replay, 401, "UNAUTHENTICATED");
    assertEquals(replay.headers.get("idempotent-replayed"), null);
  });

  await step(
    "a registration's key is the key alone: another client's request with it is 422, never the other's answer",
    async () => {
      const signup = (name: string, password = `${name}-password`) => ({
        username: name,
        email: `${name}@example.test`,
        password,
        password2: password,
      });
      const register = (key: string, body: unknown) => keyed(t, "POST", api("/users/"), key, { body });
      assertEquals((await register("everyones-key", signup("gwen"))).status, 201);
      const probe = await register("everyones-key", signup("hank"));
      assertProblem(probe, 422, "IDEMPOTENCY_KEY_REUSED");
      assert(!JSON.stringify(probe.body).includes("gwen"), JSON.stringify(probe.body));
      assertProblem(await register("everyones-key", signup("gwen", "another-password")), 422, "IDEMPOTENCY_KEY_REUSED");
      assertEquals(replayed(await register("everyones-key", signup("gwen"))), true);
    },
  );

  await step(
    "a keyed registration stores a keyed MAC of its request, which no dictionary of bodies matches",
    async () => {
      const password = "correct horse battery";
      const body = { username: "kim", email: "kim@example.test", password, password2: password };
      const text = JSON.stringify(body);
      const response = await t.app.request(`http://api.test${api("/users/")}`, {
        method: "POST",
        headers: { "Content-Type": "application/json", "Idempotency-Key": "fingerprinted" },
        body: text,
      });
      assertEquals(response.status, 201);
      const [stored] = await t.sql<{ fingerprint: string; scope: string }[]>`
      SELECT fingerprint, scope FROM idempotency_keys WHERE key = 'fingerprinted'`;
      const sha256 = async (candidate: string) => {
        const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(candidate));
        return [
          new Uint8Array(digest).toHex(),
          new Uint8Array(digest).toBase64({ alphabet: "base64url", omitPadding: true }),
        ];
      };
      for (const guess of ["123456", "password", password]) {
        const candidate = JSON.stringify({ ...body, password: guess, password2: guess });
        for (const prefix of ["POST /api/v1/users\n", ""]) {
          assert(!(await sha256(prefix + candidate)).includes(stored.fingerprint), `${guess} matched`);
        }
      }
      assert(!stored.scope.includes("kim"), stored.scope);
      // Under another server secret the same request has another fingerprint, so it is another request (422): the
      // secret is what makes the fingerprint.
      const config = { ...t.config, JWT_SECRET: "another-server-secret-that-is-long-enough" };
      const elsewhere = createApp({ config, sql: t.sql, cache: t.cache, clock: t.clock.read, logger: silentLogger });
      const again = await elsewhere.request(`http://api.test${api("/users/")}`, {
        method: "POST",
        headers: { "Content-Type": "application/json", "Idempotency-Key": "fingerprinted" },
        body: text,
      });
      const refused = { status: again.status, headers: again.headers, body: await again.json() };
      assertProblem(refused, 422, "IDEMPOTENCY_KEY_REUSED");
    },
  );

  await step("keys are kept 24 h: a day and a second later the key runs again; expired keys are purged", async () => {
    const body = booking("2027-05-20T10:00:00Z", 1, 100);
    const first = await keyed(t, "POST", create, "kept-a-day", { token: carol.access, body });
    assertEquals(first.status, 201);
    assert(await storedKeys(t) > 1);
    await t.clock.later(24 * 3600, async () => {
      const again = await keyed(t, "POST", create, "kept-a-day", { token: await freshAccess(t, carol), body });
      assertEquals([again.status, again.body.id], [201, first.body.id]);
      assert(replayed(again));
    });
    await t.clock.later(24 * 3600 + 1, async () => {
      const token = await freshAccess(t, carol);
      const again = await keyed(t, "POST", create, "kept-a-day", { token, body });
      assertEquals(again.status, 201);
      assert(!replayed(again) && again.body.id !== first.body.id);
      // Every key stored the day before has gone; only this one is left.
      assertEquals(await storedKeys(t), 1);
    });
  });

  await step("after all of the above, every slot counter equals the sum of its confirmed reservations", async () => {
    assertEquals(await capacityDrift(t.sql, t.config), []);
  });
}, backendsAndPooler);

// Crash safety: the real server process, killed mid-burst, restarted on the same database.

const adminUser = { email: "crash-admin@example.com", password: "crash-admin-password" };
const customerUser = { username: "crash-customer", email: "crash-customer@example.com", password: "crash-customer-pw" };
const burstDay = Date.parse("2030-06-01T00:00:00Z");
const hourMs = 3600_000;

type KeyedCall = { key: string; path: string; token: string; body?: unknown };

/** Sends one keyed request; a connection lost with the process is `undefined`. */
async function send(server: ServerProcess, request: KeyedCall) {
  try {
    return await call(server, request.path, {
      method: "POST",
      headers: {
        Authorization: `Bearer ${request.token}`,
        "Content-Type": "application/json",
        "Idempotency-Key": request.key,
      },
      body: request.body === undefined ? undefined : JSON.stringify(request.body),
    });
  } catch {
    return undefined;
  }
}

async function signIn(server: ServerProcess, user: { email: string; password: string }): Promise<string> {
  const reply = await call(server, api("/users/login/"), {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ email: user.email, password: user.password }),
  });
  assertEquals(reply.status, 200, JSON.stringify(reply.body));
  return reply.body.access;
}

for (const route of postgresRoutes) {
  Deno.test(`a server killed mid-burst: every keyed create and confirm, retried, takes effect exactly once${route.via}`, async () => {
    const databaseUrl = await route.fresh();
    const env = {
      JWT_SECRET: jwtSecret,
      DATABASE_URL: databaseUrl,
      DB_POOLER: route.DB_POOLER,
      ADMIN_EMAIL: adminUser.email,
      ADMIN_PASSWORD: adminUser.password,
    };
    let server = await startServer(env);
    try {
      const registered = await call(server, api("/users/"), {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ ...customerUser, password2: customerUser.password }),
      });
      assertEquals(registered.status, 201);
      const [customer, admin] = [await signIn(server, customerUser), await signIn(server, adminUser)];
      // Each create books an hour of its own (headcount 100 + i names it); each confirm confirms one of these.
      const window = (i: number, headcount: number) => ({
        start_at: new Date(burstDay + i * hourMs).toISOString(),
        end_at: new Date(burstDay + (i + 1) * hourMs).toISOString(),
        headcount,
      });
      const toConfirm: number[] = [];
      for (let i = 0; i < 20; i++) {
        const reply = await send(server, {
          key: `setup-${i}`,
          path: api("/reservations/"),
          token: customer,
          body: window(i, 1000 + i),
        });
        assertEquals(reply?.status, 201);
        toConfirm.push(reply!.body.id);
      }
      const burst: KeyedCall[] = Array.from({ length: 20 }, (_, i) => [
        { key: `create-${i}`, path: api("/reservations/"), token: customer, body: window(i, 100 + i) },
        { key: `confirm-${i}`, path: api(`/reservations/${toConfirm[i]}/confirm/`), token: admin },
      ]).flat();

      // 40 requests, one every millisecond; the process is killed as the tenth answer comes back, so others are caught
      // at every stage, some committed with their answer still unsent.
      let answered = 0;
      const inFlight = burst.map(async (request, i) => {
        await delay(i);
        const reply = await send(server, request);
        if (reply && ++answered === 10) server.child.kill("SIGKILL");
        return reply;
      });
      const before = await Promise.all(inFlight);
      await server.exited;
      assert(before.some((reply) => reply === undefined), "the kill should cut some requests off");

      server = await startServer(env);
      const after = await Promise.all(burst.map(async (request) => {
        for (let attempt = 0; attempt < 50; attempt++) {
          const reply = await send(server, request);
          if (reply && reply.status !== 409 && reply.status < 500) return reply;
          await delay(100);
        }
        throw new Error(`${request.key} never got an answer`);
      }));

      for (const [i, request] of burst.entries()) {
        const reply = after[i];
        assertEquals(
          reply.status,
          request.key.startsWith("create") ? 201 : 200,
          `${request.key}: ${JSON.stringify(reply.body)}`,
        );
        // An answer that made it out before the kill is the one the retry gets again.
        if (before[i]?.status === reply.status) assertEquals(reply.body, before[i]!.body, request.key);
      }
      const config = loadConfig({
        APP_ENV: "test",
        JWT_SECRET: jwtSecret,
        DATABASE_URL: databaseUrl,
        DB_POOLER: route.DB_POOLER,
      });
      const database = await openDatabase(config);
      try {
        const sql = database.sql;
        const created = await sql<{ headcount: number; ids: number[] }[]>`
        SELECT headcount, array_agg(id ORDER BY id) AS ids FROM reservations WHERE headcount < 1000
        GROUP BY headcount ORDER BY headcount`;
        assertEquals(created.map((row) => row.headcount), Array.from({ length: 20 }, (_, i) => 100 + i));
        assertEquals(
          created.map((row) => row.ids),
          after.filter((_, i) => burst[i].key.startsWith("create")).map((reply) => [reply.body.id]),
        );
        const [{ confirmed }] = await sql`
        SELECT count(*)::int AS confirmed FROM reservations WHERE status = 'confirmed' AND id = ANY (${toConfirm})`;
        assertEquals(confirmed, 20);
        const events = await sql`
        SELECT reservation_id, count(*)::int AS count FROM reservation_events
        GROUP BY reservation_id, action HAVING count(*) > 1`;
        assertEquals([...events], []);
        assertEquals(await capacityDrift(sql, config), []);
      } finally {
        await database.close();
      }
    } finally {
      await stopServer(server);
    }
  });
}

Deno.test("a caller holds at most IDEMPOTENCY_KEYS_PER_USER stored keys: a new key past them is 429 and stores nothing", async () => {
  await withContext({ env: { IDEMPOTENCY_KEYS_PER_USER: "5" } }, async (t) => {
    const carol = await t.customer("carol");
    const dave = await t.customer("dave");
    const missing = api("/reservations/2000000000/");
    const rows = async (userId: number) => {
      const [{ count }] = await t.sql`
        SELECT count(*)::int AS count FROM idempotency_keys WHERE scope = ${`user:${userId}`}`;
      return count;
    };
    for (let i = 0; i < 5; i++) {
      assertProblem(await keyed(t, "DELETE", missing, `unique-${i}`, { token: carol.access }), 404, "NOT_FOUND");
    }
    for (let i = 5; i < 25; i++) {
      const refused = await keyed(t, "DELETE", missing, `unique-${i}`, { token: carol.access });
      assertProblem(refused, 429, "RATE_LIMITED");
      const retryAfter = Number(refused.headers.get("Retry-After"));
      assert(retryAfter > 23 * 3600 && retryAfter <= 24 * 3600, `Retry-After ${retryAfter}`);
    }
    assertEquals(await rows(carol.id), 5);
    // The keys held are replayed as ever, a request without a key runs, and another caller has keys of their own.
    const replay = await keyed(t, "DELETE", missing, "unique-0", { token: carol.access });
    assertEquals([replay.status, replay.headers.get("idempotent-replayed")], [404, "true"]);
    assertProblem(await t.request("DELETE", missing, { token: carol.access }), 404, "NOT_FOUND");
    assertProblem(await keyed(t, "DELETE", missing, "unique-5", { token: dave.access }), 404, "NOT_FOUND");
    // Once the oldest have expired, new keys are stored again.
    await t.clock.later(24 * 3600 + 1, async () => {
      const token = await freshAccess(t, carol);
      assertProblem(await keyed(t, "DELETE", missing, "a-day-later", { token }), 404, "NOT_FOUND");
      assertEquals(await rows(carol.id), 1);
    });
  });
});
