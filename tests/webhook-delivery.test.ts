// Webhook delivery in one process (API v1.2): what a receiver gets, verified with the standardwebhooks package, and how
// failures, slowness, redirects and internal addresses are met. A real receiver on 127.0.0.1 records every request;
// retries run on WEBHOOK_RETRY_SCALE (the schedule's clock) so minutes take milliseconds.
import { Webhook } from "standardwebhooks";
import nodeAssert from "node:assert/strict";
import { assert, assertEquals, assertMatch } from "./support/assert.ts";
import { type TestContext, TestResolver, withContext } from "./support/app.ts";
import { book, booking, confirm } from "./support/reservations.ts";
import { type Received, startWebhookReceiver, type WebhookReceiver } from "./support/webhook-receiver.ts";
import { delay, freePort } from "../harness/process.ts";
import { type Delivery, webhookReceiver } from "../docs/examples/webhook-receiver.ts";
import { selfSignedCertificate } from "../harness/tls.ts";
import { api } from "../harness/paths.ts";
import { createApp } from "../src/app.ts";
import type { Config } from "../src/config.ts";
import { type Clock, systemClock } from "../src/platform/clock.ts";
import { silentLogger } from "../src/platform/logger.ts";
import { retryDelayMs } from "../src/webhooks/delivery.ts";
import { startDeliveryWorker } from "../src/webhooks/worker.ts";

const fast = {
  WEBHOOK_ALLOW_PRIVATE: "true",
  WEBHOOK_POLL_MS: "20",
  WEBHOOK_TIMEOUT_MS: "500",
  WEBHOOK_RETRY_SCALE: "0.001",
};

type Account = { id: number; access: string };
type Attempt = {
  event_id: number;
  type: string;
  attempt: number;
  at: string;
  status_code: number | null;
  error: string | null;
  next_attempt_at: string | null;
  state: string;
};

function workerOf(t: TestContext, config: Partial<Config> = {}, extra: { clock?: Clock; ca?: string[] } = {}) {
  return startDeliveryWorker({
    sql: t.sql,
    config: { ...t.config, ...config },
    clock: extra.clock ?? systemClock,
    logger: silentLogger,
    resolveHost: t.resolver.resolve,
    ca: extra.ca,
  });
}

async function register(t: TestContext, who: Account, url: string, events?: string[]) {
  const reply = await t.request("POST", api("/webhooks/"), { token: who.access, body: { url, events } });
  assertEquals(reply.status, 201, JSON.stringify(reply.body));
  return reply.body as { id: number; secret: string };
}

async function attempts(t: TestContext, who: Account, hook: number, pageSize = 100): Promise<Attempt[]> {
  const reply = await t.request("GET", api(`/webhooks/${hook}/deliveries/?page_size=${pageSize}`), {
    token: who.access,
  });
  assertEquals(reply.status, 200, JSON.stringify(reply.body));
  return reply.body.results;
}

/** Polls the endpoint's attempt list until `check` passes. */
async function waitForAttempts(t: TestContext, who: Account, hook: number, check: (a: Attempt[]) => boolean) {
  const deadline = Date.now() + 15_000;
  for (;;) {
    const found = await attempts(t, who, hook);
    if (check(found)) return found;
    if (Date.now() > deadline) throw new Error(`attempts never matched: ${JSON.stringify(found)}`);
    await delay(20);
  }
}

const at = (receiver: WebhookReceiver, path: string) => receiver.received.filter((r) => r.path === path);
const typesOf = (requests: Received[]) => requests.map((r) => r.json.type);

Deno.test("webhook delivery – retries wait about 5 s, 30 s, 2 min, 10 min, 1 h, then every 2 h", () => {
  const minutes = [1, 2, 3, 4, 5, 6, 7, 20].map((attempt) => retryDelayMs(attempt, 1) / 60_000);
  assertEquals(minutes, [5 / 60, 0.5, 2, 10, 60, 120, 120, 120]);
  assertEquals(retryDelayMs(2, 0.001), 30);
});

Deno.test("webhook delivery – in one process", async (test) => {
  const certs = await Deno.makeTempDir({ prefix: "exam-slots-webhook-tls-" });
  const tls = await selfSignedCertificate(certs, ["secure.example.test"]);
  await withContext({ env: fast }, async (t) => {
    const receiver = startWebhookReceiver();
    const secure = startWebhookReceiver({ tls });
    for (const name of ["pinned.example.test", "secure.example.test", "wrong.example.test"]) {
      t.resolver.names.set(name, ["127.0.0.1"]);
    }
    let worker = workerOf(t, {}, { ca: [tls.cert] });
    const admin = await t.admin("boss");
    const carol = await t.customer("carol");
    const dave = await t.customer("dave");
    const hook = await register(t, carol, receiver.url("/carol"));
    const carols = () => at(receiver, "/carol");
    const triesOf = (id: string) => carols().filter((r) => r.id === id);
    const carolsDelivered = () => receiver.delivered().filter((r) => r.path === "/carol");
    try {
      let created: { id: number };
      await test.step("the standardwebhooks package accepts what is sent: {type, timestamp, data} signed per attempt", async () => {
        created = await book(t, carol.access, booking("2027-05-03T10:00:00Z", 2, 100));
        await receiver.waitFor("the created event", () => carolsDelivered().length === 1);
        const [got] = receiver.received;
        const [event] = await t.sql`SELECT id::int, at FROM reservation_events WHERE reservation_id = ${created.id}`;
        assertEquals(new Webhook(hook.secret).verify(got.body, got.headers), {
          type: "reservation.created",
          timestamp: event.at.toISOString(),
          data: {
            reservation: created,
            changes: {
              start_at: [null, "2027-05-03T10:00:00.000Z"],
              end_at: [null, "2027-05-03T12:00:00.000Z"],
              headcount: [null, 100],
            },
            actor_id: carol.id,
          },
        });
        assertEquals(got.id, String(event.id));
        assert(Math.abs(Number(got.timestamp) - Date.now() / 1000) < 60, "webhook-timestamp is this attempt's time");
        assertMatch(got.signature, /^v1,[A-Za-z0-9+/]{43}=$/);
        assertEquals(got.headers["content-type"], "application/json");
      });

      await test.step("the package refuses a tampered body and another endpoint's secret", () => {
        const [got] = receiver.received;
        const tampered = got.body.replace('"headcount":100', '"headcount":9999');
        assert(tampered !== got.body);
        nodeAssert.throws(() => new Webhook(hook.secret).verify(tampered, got.headers), /signature/i);
        const other = `whsec_${crypto.getRandomValues(new Uint8Array(32)).toBase64()}`;
        nodeAssert.throws(() => new Webhook(other).verify(got.body, got.headers), /signature/i);
      });

      await test.step("the package refuses a delivery whose webhook-timestamp is older than five minutes", async () => {
        await worker.stop();
        const tenMinutesAgo = () => new Date(Date.now() - 10 * 60_000);
        const late = workerOf(t, {}, { clock: tenMinutesAgo });
        await t.request("PATCH", api(`/reservations/${created.id}/`), {
          token: carol.access,
          body: { headcount: 120 },
        });
        await receiver.waitFor("the changed event", () => carolsDelivered().length === 2);
        await late.stop();
        worker = workerOf(t, {}, { ca: [tls.cert] });
        const got = receiver.received[1];
        assertEquals(got.json.type, "reservation.changed");
        nodeAssert.throws(() => new Webhook(hook.secret).verify(got.body, got.headers), /too old/i);
      });

      await test.step("the receiver of docs/examples takes what is sent, and refuses it tampered or stale", async () => {
        const port = freePort();
        const lee = await t.customer("lee");
        const leesHook = await register(t, lee, `http://127.0.0.1:${port}/`);
        const handled: [string, Delivery][] = [];
        const receive = webhookReceiver(leesHook.secret, (id, delivery) => void handled.push([id, delivery]));
        const sent: Request[] = [];
        const example = Deno.serve({ hostname: "127.0.0.1", port, onListen: () => {} }, (request) => {
          sent.push(request.clone());
          return receive(request);
        });
        try {
          const booked = await book(t, lee.access, booking("2027-05-04T10:00:00Z", 1, 10));
          await receiver.waitFor("the example's delivery", () => handled.length === 1);
          assertEquals(handled[0][1].data.reservation, booked);
          const tampered = new Request(sent[0].url, {
            method: "POST",
            headers: sent[0].headers,
            body: (await sent[0].text()).replace('"headcount":10', '"headcount":10000'),
          });
          assertEquals((await receive(tampered)).status, 400);

          await worker.stop();
          const late = workerOf(t, {}, { clock: () => new Date(Date.now() - 10 * 60_000) });
          await t.request("PATCH", api(`/reservations/${booked.id}/`), { token: lee.access, body: { headcount: 11 } });
          const list = await waitForAttempts(t, lee, leesHook.id, (found) => found.some((a) => a.status_code === 400));
          const stale = list.find((a) => a.status_code === 400)!;
          await late.stop();
          worker = workerOf(t, {}, { ca: [tls.cert] });
          assertEquals([stale.status_code, stale.state, handled.length], [400, "pending", 1]);
          await receiver.waitFor("the retry, signed anew", () => handled.length === 2);
          assertEquals(handled.map(([, delivery]) => delivery.type), ["reservation.created", "reservation.changed"]);
        } finally {
          await example.shutdown();
        }
      });

      await test.step("an endpoint gets a reservation's events in order; a deleted one comes as it was", async () => {
        const confirmed = await confirm(t, admin.access, created.id);
        await t.request("DELETE", api(`/reservations/${created.id}/`), { token: admin.access });
        await receiver.waitFor("four events", () => carolsDelivered().length === 4);
        const delivered = carolsDelivered();
        assertEquals(typesOf(delivered), [
          "reservation.created",
          "reservation.changed",
          "reservation.confirmed",
          "reservation.deleted",
        ]);
        assertEquals(delivered[1].json.data.changes, { headcount: [100, 120] });
        assertEquals([delivered[2].json.data.reservation, delivered[2].json.data.actor_id], [confirmed.body, admin.id]);
        assertEquals(delivered[3].json.data.reservation, confirmed.body);
      });

      await test.step("an admin's endpoint gets every reservation's events, a customer's their own, each what it asked", async () => {
        const ops = await register(t, admin, receiver.url("/admin"));
        await register(t, dave, receiver.url("/dave"), ["reservation.confirmed"]);
        const carols = await book(t, carol.access, booking("2027-05-06T10:00:00Z", 1, 10));
        const daves = await book(t, dave.access, booking("2027-05-06T12:00:00Z", 1, 10));
        await confirm(t, admin.access, daves.id);
        await receiver.waitFor("the admin's three", () => at(receiver, "/admin").length === 3);
        await receiver.waitFor("dave's one", () => at(receiver, "/dave").length === 1);
        // Each reservation's events in order; two reservations' events may interleave.
        const ids = (path: string) =>
          at(receiver, path).sort((a, b) => Number(a.id) - Number(b.id)).map((
            r,
          ) => [r.json.type, r.json.data.reservation.id]);
        assertEquals(ids("/admin"), [
          ["reservation.created", carols.id],
          ["reservation.created", daves.id],
          ["reservation.confirmed", daves.id],
        ]);
        assertEquals(ids("/dave"), [["reservation.confirmed", daves.id]]);
        assertEquals(ids("/carol").at(-1), ["reservation.created", carols.id]);
        assertEquals((await t.request("DELETE", api(`/webhooks/${ops.id}/`), { token: admin.access })).status, 204);
      });

      await test.step("a failed attempt is retried with the same webhook-id after growing delays, each one listed", async () => {
        receiver.replyWith((r) => r.path === "/carol" && triesOf(r.id).length <= 3 ? 503 : 204);
        const before = carols().length;
        await book(t, carol.access, booking("2027-05-07T10:00:00Z", 1, 10));
        await receiver.waitFor("a fourth attempt", () => carols().length === before + 4);
        const tries = carols().slice(before);
        assertEquals(new Set(tries.map((r) => r.id)).size, 1, "one webhook-id on every attempt");
        assertEquals(tries.map((r) => r.answer), [503, 503, 503, 204]);
        for (const got of tries) {
          assertEquals(
            (new Webhook(hook.secret).verify(got.body, got.headers) as { type: string }).type,
            "reservation.created",
          );
        }
        const list = await attempts(t, carol, hook.id, 4);
        assertEquals(list.map((a) => [a.attempt, a.state, a.status_code, a.error]), [
          [4, "delivered", 204, null],
          [3, "pending", 503, null],
          [2, "pending", 503, null],
          [1, "pending", 503, null],
        ]);
        assertEquals(list[0].next_attempt_at, null);
        assert(list.every((a) => String(a.event_id) === tries[0].id));
        const waits = list.slice(1).reverse().map((a) => Date.parse(a.next_attempt_at!) - Date.parse(a.at));
        // 5 s, 30 s and 2 min on the 0.001 scale, each from its attempt's start (which the answer took a little of).
        assert(
          waits[0] >= 5 && waits[0] < waits[1] && waits[1] >= 30 && waits[1] < waits[2] && waits[2] >= 120,
          `${waits}`,
        );
        const gaps = tries.slice(1).map((r, i) => r.arrivedAt - tries[i].arrivedAt);
        assert(gaps[1] >= 30 && gaps[2] >= 120, `attempts came after ${gaps} ms`);
        receiver.replyWith(() => 204);
      });

      await test.step("no answer within WEBHOOK_TIMEOUT_MS fails the attempt; the retry never overlaps it", async () => {
        receiver.replyWith((r) => r.path === "/carol" && triesOf(r.id).length === 1 ? { hangMs: 3_000 } : 204);
        const before = carolsDelivered().length;
        const started = performance.now();
        await book(t, carol.access, booking("2027-05-08T10:00:00Z", 1, 10));
        await receiver.waitFor("the retry", () => carolsDelivered().length === before + 1);
        const [first, second] = await attempts(t, carol, hook.id, 2).then((list) => list.reverse());
        assertEquals([first.status_code, first.error, first.state], [null, "no answer within 500 ms", "pending"]);
        assertEquals(second.state, "delivered");
        assert(performance.now() - started < 2_500, "the hung attempt was cut at the timeout");
        // The retry came only once the sender had given up on the first (its 500 ms ran from before it arrived).
        const [hung, retried] = carols().slice(-2);
        assertEquals([hung.id, hung.answer, retried.answer], [retried.id, "hung", 204]);
        assert(retried.arrivedAt - hung.arrivedAt >= 450, `${retried.arrivedAt - hung.arrivedAt} ms apart`);
        receiver.replyWith(() => 204);
      });

      await test.step("a receiver that is down gets the event once it is back", async () => {
        await receiver.down();
        const before = carolsDelivered().length;
        await book(t, carol.access, booking("2027-05-09T10:00:00Z", 1, 10));
        const [refused] = await waitForAttempts(t, carol, hook.id, (list) => list[0]?.error === "connection refused");
        assertEquals([refused.status_code, refused.state], [null, "pending"]);
        receiver.up();
        await receiver.waitFor("the event after the outage", () => carolsDelivered().length === before + 1);
      });

      await test.step("a redirect is not followed: that attempt failed, the next goes to the registered URL", async () => {
        receiver.replyWith((r) =>
          r.path === "/carol" && triesOf(r.id).length === 1
            ? { status: 307, location: receiver.url("/elsewhere") }
            : 204
        );
        const before = carolsDelivered().length;
        await book(t, carol.access, booking("2027-05-10T10:00:00Z", 1, 10));
        await receiver.waitFor("the retry", () => carolsDelivered().length === before + 1);
        const [redirected] = (await attempts(t, carol, hook.id, 2)).reverse();
        assertEquals([redirected.status_code, redirected.error], [307, "redirects are not followed"]);
        assertEquals(at(receiver, "/elsewhere"), []);
        receiver.replyWith(() => 204);
      });

      await test.step("the connection goes to the checked address while Host names the URL's host", async () => {
        const pinned = await register(t, dave, receiver.url("/pinned", "pinned.example.test"));
        await book(t, dave.access, booking("2027-05-11T10:00:00Z", 1, 10));
        await receiver.waitFor("the pinned delivery", () => at(receiver, "/pinned").length === 1);
        assertEquals(at(receiver, "/pinned")[0].host, `pinned.example.test:${receiver.port}`);
        await t.request("DELETE", api(`/webhooks/${pinned.id}/`), { token: dave.access });
      });

      await test.step("https: the certificate must be the URL host's, while the connection goes to the checked address", async () => {
        const erin = await t.customer("erin");
        const good = await register(t, erin, secure.url("/tls", "secure.example.test"));
        const wrong = await register(t, erin, secure.url("/tls", "wrong.example.test"));
        await book(t, erin.access, booking("2027-05-12T10:00:00Z", 1, 10));
        await secure.waitFor("the TLS delivery", () => secure.delivered().length === 1);
        assertEquals(secure.received.map((r) => r.host), [`secure.example.test:${secure.port}`]);
        const [mismatch] = await waitForAttempts(t, erin, wrong.id, (list) => list.length > 0);
        assertMatch(mismatch.error ?? "", /cert|altname/i);
        assertEquals(secure.received.length, 1, "nothing reached the receiver under the wrong name");
        for (const id of [good.id, wrong.id]) {
          await t.request("DELETE", api(`/webhooks/${id}/`), { token: erin.access });
        }
      });

      await test.step("at each delivery the name is resolved and checked again: rebound to loopback, nothing is sent", async () => {
        // Registered while the name resolved to a public address (another resolver), delivered after it moved.
        const atRegistration = new TestResolver();
        atRegistration.names.set("rebind.example.com", ["93.184.215.14"]);
        const strictConfig = { ...t.config, WEBHOOK_ALLOW_PRIVATE: false };
        const strictApp = createApp({ ...t.deps, config: strictConfig, resolveHost: atRegistration.resolve });
        const frank = await t.customer("frank");
        const response = await strictApp.request("http://api.test/api/v1/webhooks/", {
          method: "POST",
          headers: { Authorization: `Bearer ${frank.access}`, "Content-Type": "application/json" },
          body: JSON.stringify({ url: receiver.url("/rebind", "rebind.example.com") }),
        });
        assertEquals(response.status, 201);
        const rebound = await response.json();
        t.resolver.names.set("rebind.example.com", ["127.0.0.1"]);
        await worker.stop();
        worker = workerOf(t, { WEBHOOK_ALLOW_PRIVATE: false });
        await book(t, frank.access, booking("2027-05-13T10:00:00Z", 1, 10));
        await book(t, carol.access, booking("2027-05-13T12:00:00Z", 1, 10));
        const [refused] = await waitForAttempts(t, frank, rebound.id, (list) => list.length > 0);
        assertEquals(refused.error, "rebind.example.com resolves to 127.0.0.1, not a public address");
        const [literal] = await waitForAttempts(t, carol, hook.id, (list) => list[0]?.state === "pending");
        assertEquals(literal.error, "127.0.0.1 is not a public address");
        assertEquals(at(receiver, "/rebind"), []);
        await t.request("DELETE", api(`/webhooks/${rebound.id}/`), { token: frank.access });
        await worker.stop();
        const before = carolsDelivered().length;
        worker = workerOf(t);
        await receiver.waitFor("carol's event, allowed again", () => carolsDelivered().length === before + 1);
      });

      await test.step("many reservations at once, attempts failing at random: each endpoint gets each reservation's events once and in order", async () => {
        await worker.stop();
        worker = workerOf(t, { WEBHOOK_RETRY_SCALE: 0.0001 }); // a few unlucky retries in a row stay short
        const henry = await t.customer("henry");
        await register(t, henry, receiver.url("/henry"));
        let seed = 7;
        const unlucky = () => (seed = (seed * 48271) % 2147483647) % 10 < 3;
        receiver.replyWith((r) => r.path === "/henry" && unlucky() ? 500 : 204);
        const reservations = 8;
        await Promise.all(Array.from({ length: reservations }, async (_, i) => {
          const reservation = await book(t, henry.access, booking(`2027-05-${14 + i}T10:00:00Z`, 1, 10));
          for (const headcount of [11, 12]) {
            await t.request("PATCH", api(`/reservations/${reservation.id}/`), {
              token: henry.access,
              body: { headcount },
            });
          }
          await t.request("DELETE", api(`/reservations/${reservation.id}/`), { token: henry.access });
        }));
        const henrys = () => receiver.delivered().filter((r) => r.path === "/henry");
        await receiver.waitFor("32 events", () => henrys().length === reservations * 4, 30_000);
        const byReservation = Map.groupBy(henrys(), (r) => r.json.data.reservation.id);
        for (const [id, delivered] of byReservation) {
          assertEquals(typesOf(delivered), [
            "reservation.created",
            "reservation.changed",
            "reservation.changed",
            "reservation.deleted",
          ], `reservation ${id}`);
          const eventIds = delivered.map((r) => Number(r.id));
          assertEquals(eventIds, [...eventIds].sort((a, b) => a - b));
          // No attempt of an event before the previous event of its reservation was delivered.
          for (let k = 1; k < delivered.length; k++) {
            const firstTry = at(receiver, "/henry").find((r) => r.id === delivered[k].id)!;
            assert(firstTry.arrivedAt >= delivered[k - 1].arrivedAt, `reservation ${id}: event ${k} overtook`);
          }
        }
        assertEquals(new Set(henrys().map((r) => r.id)).size, reservations * 4, "each delivered once");
        assertEquals(receiver.mostAtOnceForOneEvent("/henry"), 1);
        receiver.replyWith(() => 204);
      });

      await test.step("a slow receiver holds at most WEBHOOK_CONCURRENCY attempts and never slows a request", async () => {
        await worker.stop();
        worker = workerOf(t, { WEBHOOK_CONCURRENCY: 2 });
        const ivy = await t.customer("ivy");
        const ivysHook = await register(t, ivy, receiver.url("/ivy"));
        receiver.replyWith((r) => r.path === "/ivy" ? { hangMs: 300 } : 204);
        const durations = [];
        for (let i = 0; i < 12; i++) {
          const started = performance.now();
          await book(t, ivy.access, booking(`2027-06-${String(1 + i).padStart(2, "0")}T10:00:00Z`, 1, 10));
          durations.push(performance.now() - started);
        }
        const [{ owed }] = await t.sql`
          SELECT count(*)::int AS owed FROM webhook_deliveries WHERE webhook_id = ${ivysHook.id}`;
        assert(owed >= 6, `only ${owed} deliveries still owed: the requests waited for them`);
        assert(Math.max(...durations) < 1_000, `a request took ${Math.max(...durations)} ms`);
        await receiver.waitFor("ivy's deliveries", () => at(receiver, "/ivy").length >= 12, 30_000);
        assertEquals(receiver.mostAtOnce("/ivy"), 2);
        receiver.replyWith(() => 204);
      });
    } finally {
      await worker.stop();
      await receiver.close();
      await secure.close();
      await Deno.remove(certs, { recursive: true });
    }
  });
});

Deno.test("webhook delivery – an endpoint that never answers 2xx is failed after the retry window; the newest attempts are kept", async () => {
  // 24 h scaled to 1.7 s: a dozen attempts or so, then failed.
  const scale = 0.00002;
  await withContext({ env: { ...fast, WEBHOOK_RETRY_SCALE: String(scale), WEBHOOK_ATTEMPTS_KEPT: "5" } }, async (t) => {
    const receiver = startWebhookReceiver();
    receiver.replyWith(() => 500);
    const worker = workerOf(t);
    try {
      const kim = await t.customer("kim");
      const hook = await register(t, kim, receiver.url("/kim"));
      await book(t, kim.access, booking("2027-05-03T10:00:00Z", 1, 10));
      const list = await waitForAttempts(t, kim, hook.id, (found) => found[0]?.state === "failed");
      const made = receiver.received.length;
      assert(made > 5, `${made} attempts`);
      assertEquals(list.map((a) => a.attempt), [made, made - 1, made - 2, made - 3, made - 4], "the newest 5 are kept");
      assertEquals([list[0].status_code, list[0].next_attempt_at], [500, null]);
      const span = receiver.received.at(-1)!.arrivedAt - receiver.received[0].arrivedAt;
      const window = 24 * 3_600_000 * scale;
      // The last attempt is due within the window; it starts at the next poll (20 ms) after it is due.
      assert(span <= window + 200 && span > window - retryDelayMs(6, scale) - 200, `attempts over ${span} ms`);
      assertEquals((await t.sql`SELECT count(*)::int AS n FROM webhook_deliveries`)[0].n, 0, "nothing owed");
      await delay(300);
      assertEquals(receiver.received.length, made, "no attempt after failing");
    } finally {
      await worker.stop();
      await receiver.close();
    }
  });
});

Deno.test("webhook delivery – the embedded database (deno task start) delivers the same way", async () => {
  await withContext({ backend: "embedded", env: fast }, async (t) => {
    const receiver = startWebhookReceiver();
    const worker = workerOf(t);
    try {
      const lee = await t.customer("lee");
      const hook = await register(t, lee, receiver.url("/lee"));
      const reservation = await book(t, lee.access, booking("2027-05-03T10:00:00Z", 1, 10));
      await t.request("DELETE", api(`/reservations/${reservation.id}/`), { token: lee.access });
      await receiver.waitFor("two events", () => receiver.delivered().length === 2);
      assertEquals(typesOf(receiver.received), ["reservation.created", "reservation.deleted"]);
      for (const got of receiver.received) new Webhook(hook.secret).verify(got.body, got.headers);
    } finally {
      await worker.stop();
      await receiver.close();
    }
  });
});
