// Webhook delivery across real processes on one PostgreSQL (API servers, with and without their worker, and the
// `deno task deliver` worker): the work is shared, nothing is delivered twice but by a retry, each reservation's
// events arrive in order, and a server killed right after its commits loses nothing.
import { assert, assertEquals } from "./support/assert.ts";
import { attribute, pointValue, startOtlpReceiver } from "./support/otlp-receiver.ts";
import { startWebhookReceiver, type WebhookReceiver } from "./support/webhook-receiver.ts";
import { call, json, jwtSecret, type ServerProcess, startServer, stopServer } from "../harness/server-process.ts";
import { freshDatabase, startTestServers } from "../harness/servers.ts";
import { api } from "../harness/paths.ts";
import postgres from "postgres";

const timeoutMs = 1_000;
const admin = { email: "ops@example.test", password: "ops-password-1" };
const dayMs = 24 * 3600_000;

const webhookEnv = {
  APP_ENV: "test",
  JWT_SECRET: jwtSecret,
  ADMIN_EMAIL: admin.email,
  ADMIN_PASSWORD: admin.password,
  PASSWORD_WORKERS: "1",
  WEBHOOK_ALLOW_PRIVATE: "true",
  WEBHOOK_TIMEOUT_MS: String(timeoutMs),
  WEBHOOK_POLL_MS: "100",
  WEBHOOK_RETRY_SCALE: "0.0001",
};

/** A one-hour window at 10:00 UTC `days` from now: outside the booking lead time of the real clock. */
function windowAhead(days: number) {
  const start = new Date(Math.floor((Date.now() + days * dayMs) / dayMs) * dayMs + 10 * 3600_000);
  return { start_at: start.toISOString(), end_at: new Date(start.getTime() + 3600_000).toISOString() };
}

const send = (method: string, token: string, body?: unknown) => ({
  method,
  headers: { "Content-Type": "application/json", Authorization: `Bearer ${token}` },
  ...(body === undefined ? {} : { body: JSON.stringify(body) }),
});

let serial = 0;
/** A new customer registered on `on`, logged in, with an endpoint at `path` of the receiver: their id and token. */
async function customerWithEndpoint(on: ServerProcess, receiver: WebhookReceiver, path: string) {
  const name = `customer${++serial}`;
  const account = { username: name, email: `${name}@example.test`, password: `${name}-password` };
  const registered = await call(on, api("/users/"), json({ ...account, password2: account.password }));
  assertEquals(registered.status, 201);
  const { access } = (await call(on, api("/users/login/"), json(account))).body;
  const hook = await call(on, api("/webhooks/"), send("POST", access, { url: receiver.url(path) }));
  assertEquals(hook.status, 201, JSON.stringify(hook.body));
  return { id: registered.body.id as number, access: access as string };
}

/** Books, changes twice and deletes one reservation, each request on the next instance of `spread`. */
async function changeOften(spread: ServerProcess[], token: string, days: number) {
  const on = (i: number) => spread[i % spread.length];
  const booked = await call(on(0), api("/reservations/"), send("POST", token, { ...windowAhead(days), headcount: 5 }));
  assertEquals(booked.status, 201, JSON.stringify(booked.body));
  const path = api(`/reservations/${booked.body.id}/`);
  for (const [i, headcount] of [6, 7].entries()) {
    assertEquals((await call(on(i + 1), path, send("PATCH", token, { headcount }))).status, 200);
  }
  assertEquals((await call(on(3), path, send("DELETE", token))).status, 204);
}

/** The event ids each endpoint is owed, from the history itself: every customer's own, and every event for admins. */
async function owed(databaseUrl: string, paths: Record<number, string>, adminPath?: string) {
  const db = postgres(databaseUrl, { onnotice: () => {} });
  try {
    const events = await db<{ id: string; owner_id: number }[]>`SELECT id::text, owner_id FROM reservation_events`;
    const expected = new Map<string, Set<string>>();
    const add = (path: string, id: string) => expected.set(path, (expected.get(path) ?? new Set()).add(id));
    for (const event of events) {
      if (paths[event.owner_id]) add(paths[event.owner_id], event.id);
      if (adminPath) add(adminPath, event.id);
    }
    return expected;
  } finally {
    await db.end();
  }
}

/**
 * What every delivery spec asks of what the receiver saw: each owed event delivered to each endpoint exactly once
 * (retries aside), the events of each reservation in order, and no attempt before its predecessor was delivered.
 */
function assertDeliveredOnceInOrder(receiver: WebhookReceiver, expected: Map<string, Set<string>>) {
  for (const [path, ids] of expected) {
    const requests = receiver.received.filter((r) => r.path === path);
    const delivered = receiver.delivered().filter((r) => r.path === path);
    assertEquals(new Set(delivered.map((r) => r.id)), ids, `${path}: what was delivered`);
    assertEquals(delivered.length, ids.size, `${path}: an event was delivered twice`);
    for (const [reservation, events] of Map.groupBy(delivered, (r) => r.json.data.reservation.id)) {
      const eventIds = events.map((r) => Number(r.id));
      assertEquals(eventIds, [...eventIds].sort((a, b) => a - b), `${path}: reservation ${reservation} out of order`);
      for (let k = 1; k < events.length; k++) {
        const firstTry = requests.find((r) => r.id === events[k].id)!;
        assert(firstTry.arrivedAt >= events[k - 1].arrivedAt, `${path}: reservation ${reservation} overtaken`);
      }
    }
  }
}

/**
 * No attempt began before the one before it had ended: each attempt of an event (as the service recorded them)
 * started no earlier than the retry its predecessor scheduled, once it was over.
 */
async function assertNoOverlappingAttempts(databaseUrl: string) {
  const db = postgres(databaseUrl, { onnotice: () => {} });
  try {
    const attempts = await db<{ key: string; at: Date; next_attempt_at: Date | null }[]>`
      SELECT webhook_id || ' ' || event_id AS key, at, next_attempt_at FROM webhook_attempts
      ORDER BY webhook_id, event_id, attempt`;
    for (const [key, tries] of Map.groupBy(attempts, (a) => a.key)) {
      for (let k = 1; k < tries.length; k++) {
        assert(tries[k].at >= tries[k - 1].next_attempt_at!, `endpoint and event ${key}: attempt ${k + 1} overlapped`);
      }
    }
    assert(attempts.length > 0);
  } finally {
    await db.end();
  }
}

/**
 * Stops a process that exports OpenTelemetry: with OTEL_DENO=true, Deno 2.9 sometimes never returns from Deno.exit
 * after a clean shutdown (denoland/deno#33157), so one still there 10 s after SIGTERM is killed.
 */
async function stopExporting(child: Deno.ChildProcess, exited: Promise<unknown> = child.status) {
  const kill = (signal: Deno.Signal) => {
    try {
      child.kill(signal);
    } catch { /* it exited meanwhile */ }
  };
  const timer = setTimeout(() => kill("SIGKILL"), 10_000);
  kill("SIGTERM");
  await exited;
  clearTimeout(timer);
}

const root = new URL("..", import.meta.url).pathname;
const tasks: Record<string, string> = JSON.parse(await Deno.readTextFile(`${root}deno.json`)).tasks;

/** `deno task deliver`'s own command line, as its own process (no task runner between, so signals reach it). */
function startDeliverTask(env: Record<string, string>) {
  const [, ...args] = tasks.deliver.split(" ");
  return new Deno.Command(Deno.execPath(), { args, cwd: root, env, stdin: "null", stdout: "null", stderr: "null" })
    .spawn();
}

Deno.test("webhook delivery – three API processes and a deno task deliver worker share the work: every event once (retries aside), in order", async (t) => {
  const shared = await startTestServers();
  const databaseUrl = await freshDatabase();
  const otlp = startOtlpReceiver();
  const receiver = startWebhookReceiver();
  let seed = 11;
  const random = () => (seed = (seed * 48271) % 2147483647) / 2147483647;
  // A quarter of the attempts fail, one in twenty hangs past the sender's timeout.
  receiver.replyWith(() => {
    const draw = random();
    return draw < 0.05 ? { hangMs: timeoutMs + 1_000 } : draw < 0.3 ? 500 : 204;
  });
  const env = (name: string) => ({
    ...webhookEnv,
    DATABASE_URL: databaseUrl,
    UPSTASH_REDIS_REST_URL: shared.upstashUrl,
    UPSTASH_REDIS_REST_TOKEN: shared.upstashToken,
    OTEL_DENO: "true",
    OTEL_SERVICE_NAME: `exam-slots-${name}`,
    OTEL_EXPORTER_OTLP_ENDPOINT: otlp.endpoint,
    OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
    OTEL_METRIC_EXPORT_INTERVAL: "200",
    OTEL_BSP_SCHEDULE_DELAY: "100",
  });
  // c serves requests only; a `deno task deliver` process delivers beside a and b.
  const started = await Promise.allSettled([
    startServer(env("a")),
    startServer(env("b")),
    startServer({ ...env("c"), WEBHOOK_WORKER: "false" }),
  ]);
  const instances = started.flatMap((s) => s.status === "fulfilled" ? [s.value] : []);
  const worker = startDeliverTask(env("deliver"));
  try {
    if (instances.length < 3) throw started.find((s) => s.status === "rejected")!.reason;
    const { access: adminToken } = (await call(instances[0], api("/users/login/"), json(admin))).body;
    assertEquals(
      (await call(instances[1], api("/webhooks/"), send("POST", adminToken, { url: receiver.url("/ops") })))
        .status,
      201,
    );
    const customers = await Promise.all(
      instances.map((on, i) => customerWithEndpoint(on, receiver, `/customer${i}`)),
    );

    await t.step("changes made on any instance reach every endpoint once, in each reservation's order", async () => {
      await Promise.all(
        customers.flatMap(({ access }, i) =>
          [0, 1, 2].map((k) => changeOften([...instances.slice(i), ...instances.slice(0, i)], access, 10 + i * 3 + k))
        ),
      );
      const paths = Object.fromEntries(customers.map(({ id }, i) => [id, `/customer${i}`]));
      const expected = await owed(databaseUrl, paths, "/ops");
      const total = [...expected.values()].reduce((sum, set) => sum + set.size, 0);
      assertEquals(total, 3 * 3 * 4 * 2, "36 events, each to its owner's endpoint and the admin's");
      await receiver.waitFor(`${total} deliveries`, () => receiver.delivered().length >= total, 60_000);
      assertDeliveredOnceInOrder(receiver, expected);
      await assertNoOverlappingAttempts(databaseUrl);
      assert(receiver.received.some((r) => r.answer === 500) && receiver.received.some((r) => r.answer === "hung"));
    });

    await t.step(
      "a, b and the deliver task each delivered some, c none; each attempt is a span, counted by outcome",
      async () => {
        const spans = await otlp.waitFor("delivery spans from a, b and the deliver task", () => {
          const deliveries = otlp.spans.filter((s) => s.name === "webhook delivery");
          return new Set(deliveries.map((s) => s.service)).size === 3 ? deliveries : undefined;
        });
        assertEquals(
          new Set(spans.map((s) => s.service)),
          new Set(["exam-slots-a", "exam-slots-b", "exam-slots-deliver"]),
        );
        assert(spans.every((s) => s.kind === 3 && typeof attribute(s, "webhook.event_id") === "number"));
        assert(spans.some((s) => attribute(s, "webhook.state") === "delivered" && s.status?.code !== 2));
        assert(spans.some((s) => attribute(s, "webhook.state") === "pending" && s.status?.code === 2));
        await otlp.waitFor(
          "delivered attempts counted",
          () =>
            otlp.metrics.find((m) =>
              m.name === "webhooks.delivery.attempts" &&
              m.sum?.dataPoints.some((p) => attribute(p, "webhook.state") === "delivered" && pointValue(p) > 0)
            ),
        );
        await otlp.waitFor(
          "the in-flight gauge",
          () => otlp.metrics.find((m) => m.name === "webhooks.delivery.in_flight"),
        );
      },
    );
  } finally {
    await Promise.all([
      ...instances.map((server) => stopExporting(server.child, server.exited)),
      stopExporting(worker),
    ]);
    await receiver.close();
    await otlp.close();
  }
});

Deno.test("webhook delivery – a server killed (SIGKILL) right after its commits delivers every event after a restart", async () => {
  const databaseUrl = await freshDatabase();
  const env = { ...webhookEnv, DATABASE_URL: databaseUrl, WEBHOOK_CONCURRENCY: "2" };
  const receiver = startWebhookReceiver();
  // Until the kill nothing is answered.
  receiver.replyWith(() => ({ hangMs: 30_000 }));
  let server = await startServer(env);
  try {
    const customer = await customerWithEndpoint(server, receiver, "/hooks");
    await Promise.all([20, 21].map((days) => changeOften([server], customer.access, days)));
    // Killed while its first two attempts are under way (leased) and the other six wait in PostgreSQL.
    await receiver.waitFor("the first attempts", () => receiver.received.length === 2);
    server.child.kill("SIGKILL");
    await server.exited;
    assertEquals(receiver.delivered(), [], "nothing was delivered before the kill");
    receiver.replyWith(() => 204);

    server = await startServer(env);
    const expected = await owed(databaseUrl, { [customer.id]: "/hooks" });
    assertEquals(expected.get("/hooks")!.size, 8);
    await receiver.waitFor("all 8 events", () => receiver.delivered().length === 8, 30_000);
    assertDeliveredOnceInOrder(receiver, expected);
    await assertNoOverlappingAttempts(databaseUrl);
  } finally {
    await stopServer(server);
    await receiver.close();
  }
});
