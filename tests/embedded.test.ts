import { assert, assertEquals } from "./support/assert.ts";
import { call, json, runTask, startServer, stopServer } from "../harness/server-process.ts";
import { api } from "../harness/paths.ts";

const dayMs = 24 * 3600_000;
const bearer = (token: string) => ({ headers: { Authorization: `Bearer ${token}` } });

/** A two-hour window at 10:00 UTC, `days` days from now: always outside the 3-day lead time. */
function windowIn(days: number) {
  const start = new Date(Math.floor((Date.now() + days * dayMs) / dayMs) * dayMs + 10 * 3600_000);
  return { start_at: start.toISOString(), end_at: new Date(start.getTime() + 2 * 3600_000).toISOString() };
}

Deno.test("with no DATABASE_URL the server runs on PGlite in DATA_DIR, finds everything again after a restart, and `deno task create-admin` adds an admin there", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "exam-slots-embedded-" });
  const env = {
    APP_ENV: "development",
    DATA_DIR: dataDir,
    JWT_SECRET: "embedded-test-secret-long-enough-for-hs256",
    ADMIN_EMAIL: "admin@example.test",
    ADMIN_PASSWORD: "admin-password-1",
  };
  const customer = {
    username: "kept",
    email: "kept@example.test",
    password: "kept-password",
    password2: "kept-password",
  };
  try {
    const task = await runTask(["create-admin", "--email", "ops@example.test", "--password", "ops-password-1"], env);
    assertEquals(task.code, 0, task.output);
    const first = await startServer(env);
    let reservationId: number;
    try {
      assertEquals((await call(first, "/healthz")).body, { status: "ok", db: "ok", cache: "ok" });
      assertEquals((await call(first, "/docs")).status, 200);
      assertEquals((await call(first, api("/users/"), json(customer))).status, 201);
      const login = await call(first, api("/users/login/"), json(customer));
      const booked = await call(first, api("/reservations/"), {
        ...json({ ...windowIn(10), headcount: 1200 }),
        headers: { "Content-Type": "application/json", Authorization: `Bearer ${login.body.access}` },
      });
      assertEquals(booked.status, 201);
      reservationId = booked.body.id;
      const admin = await call(
        first,
        api("/users/login/"),
        json({ email: env.ADMIN_EMAIL, password: env.ADMIN_PASSWORD }),
      );
      const confirmed = await call(first, api(`/reservations/${reservationId}/confirm/`), {
        method: "POST",
        ...bearer(admin.body.access),
      });
      assertEquals(confirmed.body.status, "confirmed");
    } finally {
      await stopServer(first);
    }

    const second = await startServer(env);
    try {
      const login = await call(second, api("/users/login/"), json(customer));
      assertEquals(login.status, 200);
      const mine = await call(second, api("/reservations/"), bearer(login.body.access));
      assertEquals(mine.body.results.map((r: { id: number; status: string }) => [r.id, r.status]), [
        [reservationId, "confirmed"],
      ]);
      const admins = await call(
        second,
        api("/users/login/"),
        json({ email: env.ADMIN_EMAIL, password: env.ADMIN_PASSWORD }),
      );
      const users = await call(second, api("/users/"), bearer(admins.body.access));
      assertEquals(users.body.count, 3, "ADMIN_EMAIL does not create a second admin on restart");
      const ops = await call(
        second,
        api("/users/login/"),
        json({ email: "ops@example.test", password: "ops-password-1" }),
      );
      assertEquals((await call(second, api("/users/"), bearer(ops.body.access))).status, 200);
      const day = windowIn(10).start_at.slice(0, 10);
      const slots = await call(second, api(`/availability/?date=${day}`), bearer(login.body.access));
      assert(slots.body.slots.some((slot: { remaining: number }) => slot.remaining === 50_000 - 1200));
    } finally {
      await stopServer(second);
    }
  } finally {
    await Deno.remove(dataDir, { recursive: true });
  }
});
