// Webhooks (API v1.2): endpoints registered, listed and deleted by their owners, at most 5 each, only to public
// addresses; every reservation event queues one delivery per endpoint that wants it, in the event's own transaction.
// No worker runs here (tests/webhook-delivery.test.ts delivers), so the public addresses below are never contacted.
import { assert, assertEquals, assertMatch } from "./support/assert.ts";
import { describeOnEveryBackend, type TestContext, withContext } from "./support/app.ts";
import { assertProblem } from "./support/problems.ts";
import { book, bookConfirmed, booking, confirm } from "./support/reservations.ts";
import { api } from "../harness/paths.ts";

const publicAddress = "93.184.215.14";
const allTypes = [
  "reservation.created",
  "reservation.changed",
  "reservation.confirmed",
  "reservation.rejected",
  "reservation.deleted",
  "reservation.released",
];

const webhooks = api("/webhooks/");
const register = (t: TestContext, token: string, body: unknown) => t.request("POST", webhooks, { token, body });

/** A URL on a host name the test resolver maps to a public address. */
function publicUrl(t: TestContext, name: string) {
  t.resolver.names.set(`${name}.example.com`, [publicAddress]);
  return `https://${name}.example.com/exam-slots`;
}

/** The actions queued for an endpoint, in event order. */
async function queued(t: TestContext, webhookId: number): Promise<string[]> {
  const rows = await t.sql<{ action: string }[]>`
    SELECT e.action FROM webhook_deliveries d JOIN reservation_events e ON e.id = d.event_id
    WHERE d.webhook_id = ${webhookId} ORDER BY d.event_id`;
  return rows.map((row) => row.action);
}

const countOf = async (t: TestContext, table: "webhooks" | "webhook_deliveries") =>
  (await t.sql<{ n: number }[]>`SELECT count(*)::int AS n FROM ${t.sql(table)}`)[0].n;

describeOnEveryBackend("webhooks", async (step, t) => {
  const admin = await t.admin("hookadmin");
  const carol = await t.customer("carol");
  const dave = await t.customer("dave");
  let carolsHook: { id: number; secret: string };

  await step(
    "registering an endpoint is 201 with a whsec_ secret of 32 random bytes and every event type",
    async () => {
      const reply = await register(t, carol.access, { url: publicUrl(t, "carol") });
      assertEquals(reply.status, 201, JSON.stringify(reply.body));
      const { id, url, events, secret, created_at } = reply.body;
      assertEquals([url, events, created_at], [
        "https://carol.example.com/exam-slots",
        allTypes,
        t.clock.now.toISOString(),
      ]);
      assertMatch(secret, /^whsec_[A-Za-z0-9+/]{43}=$/);
      assertEquals(Uint8Array.fromBase64(secret.slice("whsec_".length)).length, 32);
      carolsHook = { id, secret };
      const other = await register(t, carol.access, { url: publicUrl(t, "carol") });
      assert(other.body.secret !== secret, "every endpoint has its own secret");
      assertEquals((await t.request("DELETE", `${webhooks}${other.body.id}/`, { token: carol.access })).status, 204);
    },
  );

  await step("events is a subset, kept once each in the contract's order; unknown or no types are 400", async () => {
    const reply = await register(t, dave.access, {
      url: publicUrl(t, "dave"),
      events: ["reservation.rejected", "reservation.confirmed", "reservation.confirmed"],
      secret: "whsec_chosen",
      user_id: carol.id,
    });
    assertEquals(reply.status, 201);
    assertEquals(reply.body.events, ["reservation.confirmed", "reservation.rejected"]);
    assert(reply.body.secret !== "whsec_chosen", "a secret cannot be chosen");
    const [stored] = await t.sql`SELECT user_id FROM webhooks WHERE id = ${reply.body.id}`;
    assertEquals(stored.user_id, dave.id, "user_id is ignored");
    for (const events of [["reservation.exploded"], [], "reservation.created"]) {
      const refused = await register(t, dave.access, { url: publicUrl(t, "dave"), events });
      assertProblem(refused, 400, "VALIDATION_ERROR");
      assertEquals(refused.body.errors[0].path.split(".")[0], "events");
    }
  });

  await step("the list shows the caller's own endpoints, oldest first, paginated, never a secret", async () => {
    await register(t, carol.access, { url: publicUrl(t, "carol2"), events: ["reservation.deleted"] });
    const reply = await t.request("GET", `${webhooks}?page_size=1`, { token: carol.access });
    assertEquals(reply.status, 200);
    assertEquals(reply.body.count, 2);
    assertEquals(reply.body.results.map((w: { id: number }) => w.id), [carolsHook.id]);
    assertEquals(Object.keys(reply.body.results[0]).sort(), ["created_at", "events", "id", "url"]);
    assertEquals(new URL(reply.body.next).searchParams.get("page"), "2");
    const second = await t.request("GET", `${webhooks}?page=2&page_size=1`, { token: carol.access });
    assertEquals(second.body.results[0].url, "https://carol2.example.com/exam-slots");
    assert(!JSON.stringify([reply.body, second.body]).includes("whsec_"));
    const daves = await t.request("GET", webhooks, { token: dave.access });
    assertEquals(daves.body.count, 1);
  });

  await step("a sixth endpoint is 409 TOO_MANY_WEBHOOKS and stores nothing; deleting one frees a place", async () => {
    const erin = await t.customer("erin");
    const ids = [];
    for (let i = 0; i < 5; i++) ids.push((await register(t, erin.access, { url: publicUrl(t, `erin${i}`) })).body.id);
    const before = await countOf(t, "webhooks");
    assertProblem(await register(t, erin.access, { url: publicUrl(t, "erin5") }), 409, "TOO_MANY_WEBHOOKS");
    assertEquals(await countOf(t, "webhooks"), before);
    assertEquals((await t.request("DELETE", `${webhooks}${ids[0]}/`, { token: erin.access })).status, 204);
    assertEquals((await register(t, erin.access, { url: publicUrl(t, "erin5") })).status, 201);
  });

  await step("ten registrations at once leave exactly five endpoints", async () => {
    const frank = await t.customer("frank");
    const url = publicUrl(t, "frank");
    const replies = await Promise.all(Array.from({ length: 10 }, () => register(t, frank.access, { url })));
    assertEquals(replies.filter((r) => r.status === 201).length, 5);
    for (const refused of replies.filter((r) => r.status !== 201)) assertProblem(refused, 409, "TOO_MANY_WEBHOOKS");
    const [{ n }] = await t.sql`SELECT count(*)::int AS n FROM webhooks WHERE user_id = ${frank.id}`;
    assertEquals(n, 5);
  });

  await step("another user's endpoint is 404 to delete or to read, an admin's request included", async () => {
    for (const token of [dave.access, admin.access]) {
      const path = `${webhooks}${carolsHook.id}/`;
      assertProblem(await t.request("DELETE", path, { token }), 404, "NOT_FOUND");
      assertProblem(await t.request("GET", `${path}deliveries/`, { token }), 404, "NOT_FOUND");
    }
    assertProblem(await t.request("DELETE", `${webhooks}999999/`, { token: carol.access }), 404, "NOT_FOUND");
    const mine = await t.request("GET", `${webhooks}${carolsHook.id}/deliveries/`, { token: carol.access });
    assertEquals([mine.status, mine.body.count, mine.body.results], [200, 0, []]);
    assertProblem(await t.request("GET", webhooks), 401, "UNAUTHENTICATED");
  });

  let adminsHook: number;
  await step("each event queues one delivery per endpoint that wants it: the owner's, and every admin's", async () => {
    adminsHook = (await register(t, admin.access, { url: publicUrl(t, "ops"), events: ["reservation.confirmed"] }))
      .body.id;
    const davesHook = (await t.request("GET", webhooks, { token: dave.access })).body.results[0].id;
    const created = await book(t, carol.access, booking("2027-05-03T10:00:00Z", 2, 100));
    const changed = await t.request("PATCH", api(`/reservations/${created.id}/`), {
      token: carol.access,
      body: { headcount: 120 },
    });
    const confirmed = await confirm(t, admin.access, created.id);
    assertEquals((await t.request("DELETE", api(`/reservations/${created.id}/`), { token: admin.access })).status, 204);
    assertEquals(await queued(t, carolsHook.id), ["created", "changed", "confirmed", "deleted"]);
    assertEquals(await queued(t, adminsHook), ["confirmed"]);
    assertEquals(await queued(t, davesHook), [], "dave asked for confirmations of his own reservations only");

    const events = await t.sql<{ action: string; reservation: unknown }[]>`
      SELECT action, reservation FROM reservation_events WHERE reservation_id = ${created.id} ORDER BY id`;
    assertEquals(events.map((e) => e.reservation), [created, changed.body, confirmed.body, confirmed.body]);
  });

  await step("a change that rolls back queues nothing", async () => {
    const first = await bookConfirmed(t, carol.access, admin.access, booking("2027-05-04T10:00:00Z", 1, 30_000));
    const second = await bookConfirmed(t, carol.access, admin.access, booking("2027-05-04T12:00:00Z", 1, 30_000));
    const before = await queued(t, carolsHook.id);
    const moved = await t.request("PATCH", api(`/reservations/${second.id}/`), {
      token: admin.access,
      body: { start_at: first.start_at, end_at: first.end_at },
    });
    assertProblem(moved, 409, "CAPACITY_EXCEEDED");
    assertEquals(await queued(t, carolsHook.id), before);
  });

  await step("deleting a user queues `released` for the admins' endpoints with the reservation as it was", async () => {
    await t.sql`UPDATE webhooks SET actions = actions || '{released}' WHERE id = ${adminsHook}`;
    const grace = await t.customer("grace");
    const graceHook = (await register(t, grace.access, { url: publicUrl(t, "grace") })).body.id;
    const held = await book(t, grace.access, booking("2027-05-05T10:00:00Z", 1, 10));
    assertEquals((await t.request("DELETE", api(`/users/${grace.id}/`), { token: admin.access })).status, 204);
    assertEquals(await queued(t, adminsHook), ["confirmed", "confirmed", "confirmed", "released"]);
    const [released] = await t.sql`SELECT reservation FROM reservation_events WHERE action = 'released'`;
    assertEquals(released.reservation, held);
    assertEquals((await t.sql`SELECT 1 FROM webhooks WHERE id = ${graceHook}`).length, 0, "her endpoints went");
  });

  await step("deleting an endpoint drops what it was still owed", async () => {
    assert((await queued(t, carolsHook.id)).length > 0);
    const before = await countOf(t, "webhook_deliveries");
    const owed = (await queued(t, carolsHook.id)).length;
    assertEquals((await t.request("DELETE", `${webhooks}${carolsHook.id}/`, { token: carol.access })).status, 204);
    assertEquals(await countOf(t, "webhook_deliveries"), before - owed);
    assertEquals((await t.request("GET", webhooks, { token: carol.access })).body.count, 1);
  });
});

/** Registers `url` as a new customer of `t`; the reply. */
async function attempt(t: TestContext, url: string) {
  const who = await t.customer();
  return await register(t, who.access, { url });
}

async function assertRefused(t: TestContext, url: string, message: RegExp) {
  const before = await countOf(t, "webhooks");
  const reply = await attempt(t, url);
  assertProblem(reply, 400, "VALIDATION_ERROR");
  assertEquals(reply.body.errors.map((e: { path: string }) => e.path), ["url"], url);
  assertMatch(reply.body.errors[0].message, message);
  assertEquals(await countOf(t, "webhooks"), before, `${url} left a row`);
}

const internalTargets = [
  "http://127.0.0.1:8000/hooks",
  "http://127.1.2.3/",
  "http://2130706433/", // 127.0.0.1 as one number
  "http://0x7f.0.0.1/",
  "http://localhost:3000/hooks",
  "http://[::1]/hooks",
  "http://[::ffff:127.0.0.1]/",
  "http://0.0.0.0/",
  "http://10.1.2.3/",
  "http://172.16.5.4/",
  "http://192.168.0.10/",
  "http://169.254.169.254/latest/meta-data/",
  "http://100.64.0.1/",
  "http://[fd00::1]/",
  "http://[fe80::1]/",
  "http://224.0.0.1/",
  "http://198.18.0.1/",
];

Deno.test("webhooks – url rules: only public addresses, checked on the resolved addresses of a name", async (test) => {
  await withContext({}, async (t) => {
    await test.step("loopback, private, link-local, CGNAT, unspecified, multicast and reserved targets are 400", async () => {
      for (const url of internalTargets) await assertRefused(t, url, /not a public address/);
    });

    await test.step("a name is refused if any of its addresses is internal, or if it does not resolve", async () => {
      t.resolver.names.set("internal.example.com", ["10.0.0.7"]);
      t.resolver.names.set("mixed.example.com", [publicAddress, "192.168.1.1"]);
      await assertRefused(t, "https://internal.example.com/", /resolves to 10\.0\.0\.7/);
      await assertRefused(t, "https://mixed.example.com/", /resolves to 192\.168\.1\.1/);
      await assertRefused(t, "https://nowhere.example.com/", /does not resolve/);
    });

    await test.step("http is fine outside production; credentials and other schemes are refused", async () => {
      assertEquals((await attempt(t, `http://${publicAddress}/hooks`)).status, 201);
      t.resolver.names.set("public.example.com", [publicAddress, "2606:4700::1111"]);
      assertEquals((await attempt(t, "http://public.example.com:8080/hooks?token=abc")).status, 201);
      await assertRefused(t, `https://user:pass@${publicAddress}/`, /credentials/);
      for (
        const url of ["ftp://public.example.com/", "javascript:alert(1)", "not a url", `https://${"a".repeat(2050)}`]
      ) {
        const reply = await attempt(t, url);
        assertProblem(reply, 400, "VALIDATION_ERROR");
        assertEquals(reply.body.errors[0].path, "url");
      }
    });
  });

  await withContext({ env: { APP_ENV: "production" } }, async (t) => {
    await test.step("with APP_ENV=production a webhook must be https", async () => {
      await assertRefused(t, `http://${publicAddress}/hooks`, /https/);
      assertEquals((await attempt(t, `https://${publicAddress}/hooks`)).status, 201);
    });
  });

  await withContext({ env: { WEBHOOK_ALLOW_PRIVATE: "true" } }, async (t) => {
    await test.step("WEBHOOK_ALLOW_PRIVATE=true accepts the internal targets", async () => {
      for (const url of internalTargets) assertEquals((await attempt(t, url)).status, 201, url);
    });
  });
});
