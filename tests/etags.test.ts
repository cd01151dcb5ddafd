// Concurrent edits (API v1.1): a strong ETag on every reservation, If-Match on its writes, If-None-Match on its read.
import { assert, assertEquals, assertNotEquals } from "./support/assert.ts";
import { describeOnEveryBackend, type Reply, type TestContext } from "./support/app.ts";
import { assertProblem } from "./support/problems.ts";
import { book, booking } from "./support/reservations.ts";
import { capacityDrift } from "../src/reservations/capacity.ts";
import { api } from "../harness/paths.ts";

// The test clock starts at 2027-04-01T00:00Z; every step books on a day of its own.

const etagOf = (reply: Reply) => reply.headers.get("etag")!;

async function eventCount(t: TestContext, reservationId: number): Promise<number> {
  const [{ count }] = await t.sql`
    SELECT count(*)::int AS count FROM reservation_events WHERE reservation_id = ${reservationId}`;
  return count;
}

describeOnEveryBackend("etags", async (step, t) => {
  const admin = await t.admin("root");
  const otherAdmin = await t.admin("deputy");
  const carol = await t.customer("carol");
  const reservation = (id: number) => api(`/reservations/${id}/`);
  const read = (id: number, headers: Record<string, string> = {}) =>
    t.request("GET", reservation(id), { token: carol.access, headers });

  await step("every response carrying a reservation has a strong ETag, the same as its read gives", async () => {
    const created = await t.request("POST", api("/reservations/"), {
      token: carol.access,
      body: booking("2027-05-01T10:00:00Z", 1, 100),
    });
    assertEquals(created.status, 201);
    const etag = etagOf(created);
    assert(/^"[^"]+"$/.test(etag), `a strong ETag is a quoted string, not W/: ${etag}`);
    assertEquals(etagOf(await read(created.body.id)), etag);
    assertEquals(etagOf(await read(created.body.id)), etag);
  });

  await step("the ETag changes with every write: edit, confirm, and an admin's move", async () => {
    const { id } = await book(t, carol.access, booking("2027-05-02T10:00:00Z", 1, 100));
    const seen = [etagOf(await read(id))];
    const writes = [
      () => t.request("PATCH", reservation(id), { token: carol.access, body: { headcount: 120 } }),
      () => t.request("POST", `${reservation(id)}confirm/`, { token: admin.access }),
      () => t.request("PATCH", reservation(id), { token: admin.access, body: { headcount: 130 } }),
    ];
    for (const write of writes) {
      const reply = await write();
      assertEquals(reply.status, 200);
      assertEquals(etagOf(await read(id)), etagOf(reply));
      seen.push(etagOf(reply));
    }
    assertEquals(new Set(seen).size, 4);
  });

  await step("If-None-Match with the current ETag is 304 with no body; an old one gets the reservation", async () => {
    const { id } = await book(t, carol.access, booking("2027-05-03T10:00:00Z", 1, 100));
    const current = await read(id);
    const notModified = await read(id, { "If-None-Match": etagOf(current) });
    assertEquals([notModified.status, notModified.body, etagOf(notModified)], [304, null, etagOf(current)]);
    assertEquals((await read(id, { "If-None-Match": `"stale", ${etagOf(current)}` })).status, 304);
    await t.request("PATCH", reservation(id), { token: carol.access, body: { headcount: 101 } });
    const modified = await read(id, { "If-None-Match": etagOf(current) });
    assertEquals([modified.status, modified.body.headcount], [200, 101]);
    assertNotEquals(etagOf(modified), etagOf(current));
  });

  await step(
    "a stale If-Match on PATCH, DELETE and confirm is 412 PRECONDITION_FAILED and changes nothing",
    async () => {
      const { id } = await book(t, carol.access, booking("2027-05-04T10:00:00Z", 1, 100));
      const stale = etagOf(await read(id));
      await t.request("PATCH", reservation(id), { token: carol.access, body: { headcount: 110 } });
      const before = await read(id);
      const events = await eventCount(t, id);
      const ifMatch = { "If-Match": stale };
      const refused = [
        await t.request("PATCH", reservation(id), { token: carol.access, body: { headcount: 120 }, headers: ifMatch }),
        await t.request("DELETE", reservation(id), { token: carol.access, headers: ifMatch }),
        await t.request("POST", `${reservation(id)}confirm/`, { token: admin.access, headers: ifMatch }),
      ];
      for (const reply of refused) assertProblem(reply, 412, "PRECONDITION_FAILED");
      const after = await read(id);
      assertEquals([after.body, etagOf(after)], [before.body, etagOf(before)]);
      assertEquals(await eventCount(t, id), events);
      const [slot] = await t.sql`SELECT confirmed FROM slot_usage WHERE slot_start = '2027-05-04T10:00:00Z'`;
      assertEquals(slot?.confirmed ?? 0, 0);
    },
  );

  await step(
    "a fresh If-Match lets PATCH, confirm and DELETE through, each with the ETag the last one gave",
    async () => {
      const created = await book(t, carol.access, booking("2027-05-05T10:00:00Z", 1, 100));
      let etag = etagOf(await read(created.id));
      const patched = await t.request("PATCH", reservation(created.id), {
        token: carol.access,
        body: { headcount: 150 },
        headers: { "If-Match": etag },
      });
      assertEquals([patched.status, patched.body.headcount], [200, 150]);
      etag = etagOf(patched);
      const confirmed = await t.request("POST", `${reservation(created.id)}confirm/`, {
        token: admin.access,
        headers: { "If-Match": etag },
      });
      assertEquals([confirmed.status, confirmed.body.status], [200, "confirmed"]);
      const removed = await t.request("DELETE", reservation(created.id), {
        token: admin.access,
        headers: { "If-Match": etagOf(confirmed) },
      });
      assertEquals(removed.status, 204);
    },
  );

  await step("If-Match: * matches any current reservation, and a list of ETags matches if one does", async () => {
    const { id } = await book(t, carol.access, booking("2027-05-06T10:00:00Z", 1, 100));
    const star = await t.request("PATCH", reservation(id), {
      token: carol.access,
      body: { headcount: 160 },
      headers: { "If-Match": "*" },
    });
    assertEquals(star.status, 200);
    const listed = await t.request("PATCH", reservation(id), {
      token: carol.access,
      body: { headcount: 170 },
      headers: { "If-Match": `"stale", ${etagOf(star)}` },
    });
    assertEquals(listed.status, 200);
    const weak = await t.request("PATCH", reservation(id), {
      token: carol.access,
      body: { headcount: 180 },
      headers: { "If-Match": `W/${etagOf(listed)}` },
    });
    assertProblem(weak, 412, "PRECONDITION_FAILED"); // If-Match compares strongly
  });

  await step("two admins racing PATCH with one ETag: exactly one 200, one 412", async () => {
    for (let round = 0; round < 5; round++) {
      const { id } = await book(t, carol.access, booking(`2027-05-${10 + round}T10:00:00Z`, 1, 100));
      const etag = etagOf(await read(id));
      const replies = await Promise.all([admin, otherAdmin].map((who, i) =>
        t.request("PATCH", reservation(id), {
          token: who.access,
          body: { headcount: 200 + i },
          headers: { "If-Match": etag },
        })
      ));
      assertEquals(replies.map((reply) => reply.status).sort(), [200, 412]);
      const winner = replies.find((reply) => reply.status === 200)!;
      assertEquals((await read(id)).body.headcount, winner.body.headcount);
      assertEquals(await eventCount(t, id), 2); // created, and the one change
    }
  });

  await step("after all of the above, every slot counter equals the sum of its confirmed reservations", async () => {
    assertEquals(await capacityDrift(t.sql, t.config), []);
  });
});
