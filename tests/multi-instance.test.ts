import { assert, assertEquals } from "./support/assert.ts";
import { call, json, jwtSecret, type ServerProcess, startServer, stopServer } from "../harness/server-process.ts";
import { postgresRoutes, startTestServers } from "../harness/servers.ts";
import { api } from "../harness/paths.ts";
import { openDatabase } from "../src/platform/db.ts";
import { capacityDrift } from "../src/reservations/capacity.ts";

// Three server processes of one deployment: one PostgreSQL, one Redis behind the Upstash REST protocol.

const capacity = 100;
const headcount = 7;
const fits = Math.floor(capacity / headcount); // 14 reservations, 98 examinees
const admin = { email: "boss@example.test", password: "boss-password-1" };
const dayMs = 24 * 3600_000;

const bearer = (token: string) => ({ headers: { Authorization: `Bearer ${token}` } });
const authorized = (token: string, body: unknown) => ({
  ...json(body),
  headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
});

/** A two-hour window at 10:00 UTC ten days from now: outside the booking lead time of the real clock. */
function window() {
  const start = new Date(Math.floor((Date.now() + 10 * dayMs) / dayMs) * dayMs + 10 * 3600_000);
  return { start_at: start.toISOString(), end_at: new Date(start.getTime() + 2 * 3600_000).toISOString() };
}

for (const route of postgresRoutes) {
  Deno.test(`multi-instance – three instances on one database and one cache behave as one service${route.via}`, async (t) => {
    const shared = await startTestServers();
    const env = {
      JWT_SECRET: jwtSecret,
      DATABASE_URL: await route.fresh(),
      DB_POOLER: route.DB_POOLER,
      UPSTASH_REDIS_REST_URL: shared.upstashUrl,
      UPSTASH_REDIS_REST_TOKEN: shared.upstashToken,
      ADMIN_EMAIL: admin.email,
      ADMIN_PASSWORD: admin.password,
      MAX_CONCURRENT_EXAMINEES: String(capacity),
      PASSWORD_WORKERS: "1",
    };
    const started = await Promise.allSettled([startServer(env), startServer(env), startServer(env)]);
    const instances = started.flatMap((s) => s.status === "fulfilled" ? [s.value] : []);
    if (instances.length < 3) {
      await Promise.all(instances.map(stopServer));
      throw started.find((s) => s.status === "rejected")!.reason;
    }
    const counters = await openDatabase({
      DATABASE_URL: env.DATABASE_URL,
      DATA_DIR: ".data",
      DB_POOL_MAX: 1,
      DB_POOLER: route.DB_POOLER,
    });
    const [a, b, c] = instances;
    /** The instance the `i`-th request of a spread goes to. */
    const spread = (i: number) => instances[i % instances.length];

    let serial = 0;
    // The runs share one Redis, where the login limits of a name spent in one run would still hold in the next.
    const run = crypto.randomUUID().slice(0, 8);
    async function customer(on: ServerProcess) {
      const name = `customer${++serial}_${run}`;
      const account = { username: name, email: `${name}@example.test`, password: `${name}-password` };
      const registered = await call(on, api("/users/"), json({ ...account, password2: account.password }));
      assertEquals(registered.status, 201, JSON.stringify(registered.body));
      return { ...account, id: registered.body.id as number };
    }
    const login = async (on: ServerProcess, who: { email: string; password: string }) => {
      const reply = await call(on, api("/users/login/"), json({ email: who.email, password: who.password }));
      assertEquals(reply.status, 200, JSON.stringify(reply.body));
      return reply.body as { access: string; refresh: string };
    };

    try {
      await t.step("a session logged out on one instance is refused on the others", async () => {
        const tokens = await login(a, await customer(a));
        const logout = await call(b, api("/users/logout/"), authorized(tokens.access, { refresh: tokens.refresh }));
        assertEquals(logout.status, 204);
        for (const instance of [a, c]) {
          assertEquals(
            (await call(instance, api("/users/login/refresh/"), json({ refresh: tokens.refresh }))).status,
            401,
          );
        }
      });

      await t.step("a refresh token spent on one instance is refused on the others", async () => {
        const tokens = await login(a, await customer(b));
        assertEquals((await call(b, api("/users/login/refresh/"), json({ refresh: tokens.refresh }))).status, 200);
        for (const instance of [c, a]) {
          assertEquals(
            (await call(instance, api("/users/login/refresh/"), json({ refresh: tokens.refresh }))).status,
            401,
          );
        }
      });

      await t.step("failed logins spread over the instances add up to one limit", async () => {
        const victim = await customer(c);
        for (let i = 0; i < 10; i++) {
          const reply = await call(
            spread(i),
            api("/users/login/"),
            json({ email: victim.email, password: "wrong-guess" }),
          );
          assertEquals(reply.status, 401, `attempt ${i + 1}`);
        }
        const eleventh = await call(spread(10), api("/users/login/"), json({ email: victim.email, password: "wrong" }));
        assertEquals(eleventh.status, 429);
        assert(Number(eleventh.headers.get("retry-after")) > 0);
        const right = await call(
          spread(11),
          api("/users/login/"),
          json({ email: victim.email, password: victim.password }),
        );
        assertEquals(right.status, 429, "the limit holds on every instance");
      });

      await t.step("a user deleted on one instance is locked out on every instance at once", async () => {
        const leaving = await customer(a);
        const { access } = await login(b, leaving);
        assertEquals((await call(a, api("/users/me/"), bearer(access))).status, 200);
        const deleted = await call(c, api(`/users/${leaving.id}/`), { method: "DELETE", ...bearer(access) });
        assertEquals(deleted.status, 204);
        for (const instance of instances) {
          assertEquals((await call(instance, api("/users/me/"), bearer(access))).status, 401);
        }
      });

      await t.step("confirmations spread over every instance never overbook, and every counter matches", async () => {
        const booked = window();
        const customers = await Promise.all([customer(a), customer(b), customer(c)]);
        const bookings = await Promise.all(customers.flatMap((who, i) => {
          const on = spread(i);
          return [
            login(on, who).then(async ({ access }) => {
              const ids: number[] = [];
              for (let n = 0; n < 10; n++) {
                const reply = await call(on, api("/reservations/"), authorized(access, { ...booked, headcount }));
                assertEquals(reply.status, 201, JSON.stringify(reply.body));
                ids.push(reply.body.id);
              }
              return ids;
            }),
          ];
        }));
        const { access } = await login(a, admin);
        const confirmations = await Promise.all(
          bookings.flat().map((id, i) =>
            call(spread(i), api(`/reservations/${id}/confirm/`), { method: "POST", ...bearer(access) })
          ),
        );
        const outcomes = confirmations.map((r) => r.status === 200 ? "200" : `${r.status} ${r.body.code}`);
        assertEquals(outcomes.filter((o) => o === "200").length, fits, JSON.stringify(outcomes));
        assertEquals(outcomes.filter((o) => o === "409 CAPACITY_EXCEEDED").length, 30 - fits);
        assertEquals(await capacityDrift(counters.sql, { MAX_CONCURRENT_EXAMINEES: capacity, SLOT_MINUTES: 60 }), []);
      });

      await t.step("every instance answers the same availability", async () => {
        const { access } = await login(b, admin);
        const day = window().start_at.slice(0, 10);
        const answers = await Promise.all(
          instances.map((instance) => call(instance, api(`/availability/?date=${day}`), bearer(access))),
        );
        for (const answer of answers) assertEquals(answer.body, answers[0].body);
        const booked = answers[0].body.slots.filter((slot: { confirmed: number }) => slot.confirmed > 0);
        assertEquals(booked.map((slot: { confirmed: number }) => slot.confirmed), [fits * headcount, fits * headcount]);
      });
    } finally {
      await counters.close();
      await Promise.all(instances.map(stopServer));
    }
  });
}
