// History (API v1.1): every change of a reservation is an event written in the transaction that makes it, read back
// per reservation by its owner or an admin, and across all reservations by admins in the audit list.
import { assert, assertEquals } from "./support/assert.ts";
import { backends, describeOnEveryBackend, type TestContext, withContext } from "./support/app.ts";
import { assertProblem } from "./support/problems.ts";
import { book, bookConfirmed, booking, confirm } from "./support/reservations.ts";
import { api } from "../harness/paths.ts";

// The test clock starts at 2027-04-01T00:00Z and moves ten seconds between the actions whose order is checked.

type Event = {
  id: number;
  reservation_id: number;
  action: string;
  at: string;
  actor_id: number;
  request_id: string;
  changes: unknown;
};

describeOnEveryBackend("history", async (step, t) => {
  const admin = await t.admin("root");
  const carol = await t.customer("carol");
  const dave = await t.customer("dave");
  const reservation = (id: number) => api(`/reservations/${id}/`);
  const history = (id: number, token: string, query = "") =>
    t.request("GET", api(`/reservations/${id}/history/${query ? `?${query}` : ""}`), { token });
  const audit = (query: string, token = admin.access) => t.request("GET", api(`/audit/?${query}`), { token });
  const summary = (events: Event[]) => events.map((e) => [e.action, e.actor_id, e.request_id]);
  /** A request sent with its own X-Request-Id, ten seconds after the last. */
  const at = (requestId: string) => {
    t.clock.advance(10);
    return { "X-Request-Id": requestId };
  };

  let deleted: number;

  await step("every action appears once, in order, with its time, actor, request id and changes", async () => {
    const created = await t.request("POST", api("/reservations/"), {
      token: carol.access,
      body: booking("2027-05-01T10:00:00Z", 2, 100),
      headers: at("history-create"),
    });
    const id = deleted = created.body.id;
    const changed = await t.request("PATCH", reservation(id), {
      token: carol.access,
      body: { start_at: "2027-05-01T11:00:00Z", end_at: "2027-05-01T13:00:00Z", headcount: 120 },
      headers: at("history-change"),
    });
    const confirmed = await t.request("POST", `${reservation(id)}confirm/`, {
      token: admin.access,
      headers: at("history-confirm"),
    });
    const moved = await t.request("PATCH", reservation(id), {
      token: admin.access,
      body: { headcount: 150, end_at: "2027-05-01T13:00:00Z" },
      headers: at("history-move"),
    });
    const removed = await t.request("DELETE", reservation(id), { token: admin.access, headers: at("history-delete") });
    assertEquals([created, changed, confirmed, moved, removed].map((r) => r.status), [201, 200, 200, 200, 204]);

    const reply = await history(id, admin.access);
    assertEquals(reply.status, 200);
    const events: Event[] = reply.body.results;
    assertEquals(summary(events), [
      ["created", carol.id, "history-create"],
      ["changed", carol.id, "history-change"],
      ["confirmed", admin.id, "history-confirm"],
      ["changed", admin.id, "history-move"],
      ["deleted", admin.id, "history-delete"],
    ]);
    assertEquals(events.map((e) => e.changes), [
      {
        start_at: [null, "2027-05-01T10:00:00.000Z"],
        end_at: [null, "2027-05-01T12:00:00.000Z"],
        headcount: [null, 100],
      },
      {
        start_at: ["2027-05-01T10:00:00.000Z", "2027-05-01T11:00:00.000Z"],
        end_at: ["2027-05-01T12:00:00.000Z", "2027-05-01T13:00:00.000Z"],
        headcount: [100, 120],
      },
      { status: ["pending", "confirmed"] },
      { headcount: [120, 150] }, // end_at was sent unchanged: only what changed is recorded
      null,
    ]);
    assertEquals(
      events.map((e) => e.at),
      [1, 2, 3, 4, 5].map((tens) => new Date(Date.parse("2027-04-01T00:00:00Z") + tens * 10_000).toISOString()),
    );
    assert(events.every((e, i) => i === 0 || e.id > events[i - 1].id));
    assert(events.every((e) => e.reservation_id === id));
  });

  await step("the owner reads the history of their reservation, deleted or not", async () => {
    const { id } = await book(t, carol.access, booking("2027-05-02T10:00:00Z", 1, 100));
    const own = await history(id, carol.access);
    assertEquals(own.status, 200);
    assertEquals(own.body.results.map((e: Event) => [e.action, e.actor_id]), [["created", carol.id]]);
    assertEquals((await history(deleted, carol.access)).body.results.length, 5);
  });

  await step(
    "history comes a page at a time: at most 100 events, oldest first, with the absolute URL of the next",
    async () => {
      const { id } = await book(t, carol.access, booking("2027-05-02T12:00:00Z", 1, 100));
      // 250 changes more, written as the service writes them, without 250 requests.
      await t.sql`
      INSERT INTO reservation_events (reservation_id, owner_id, action, at, actor_id, request_id, changes)
      SELECT ${id}, ${carol.id}, 'changed', ${t.clock.read()}, ${carol.id}, 'bulk-' || n,
        jsonb_build_object('headcount', jsonb_build_array(n, n + 1))
      FROM generate_series(1, 250) n`;
      const page = async (url: string) => {
        const reply = await t.request("GET", url, { token: carol.access });
        assertEquals(reply.status, 200, JSON.stringify(reply.body));
        assert(JSON.stringify(reply.body).length < 40_000, "a page's size is bounded");
        return reply.body as { results: Event[]; next: string | null };
      };
      const seen: Event[] = [];
      const sizes: number[] = [];
      let next: string | null = api(`/reservations/${id}/history/`);
      while (next) {
        const body = await page(next.startsWith("http") ? new URL(next).pathname + new URL(next).search : next);
        seen.push(...body.results);
        sizes.push(body.results.length);
        if (body.next) assertEquals(new URL(body.next).origin, "http://api.test");
        next = body.next;
      }
      assertEquals(sizes, [100, 100, 51]);
      assertEquals(seen[0].action, "created");
      assertEquals(seen.length, new Set(seen.map((e) => e.id)).size);
      assert(seen.every((e, i) => i === 0 || e.id > seen[i - 1].id), "oldest first");
      const clamped = await page(api(`/reservations/${id}/history/?page_size=1000`));
      assertEquals(clamped.results.length, 100);
      const small = await page(api(`/reservations/${id}/history/?page_size=2&after=${seen[9].id}`));
      assertEquals(small.results.map((e) => e.id), [seen[10].id, seen[11].id]);
      assertEquals(new URL(small.next!).searchParams.get("after"), String(seen[11].id));
      const past = await page(api(`/reservations/${id}/history/?after=${seen.at(-1)!.id}`));
      assertEquals([past.results, past.next], [[], null]);
      for (const query of ["page_size=0", "page_size=abc", "after=-1", "after=x"]) {
        assertProblem(await history(id, carol.access, query), 400, "VALIDATION_ERROR");
      }
      assertProblem(await history(id, dave.access, `after=${seen[5].id}`), 404, "NOT_FOUND");
    },
  );

  await step("a customer gets 404 for another's history and 403 for the audit list; a missing id is 404", async () => {
    assertProblem(await history(deleted, dave.access), 404, "NOT_FOUND");
    const { id } = await book(t, carol.access, booking("2027-05-03T10:00:00Z", 1, 100));
    assertProblem(await history(id, dave.access), 404, "NOT_FOUND");
    assertProblem(await audit("", carol.access), 403, "FORBIDDEN");
    assertProblem(await history(999_999, admin.access), 404, "NOT_FOUND");
    assertProblem(await t.request("GET", api(`/reservations/${id}/history/`)), 401, "UNAUTHENTICATED");
  });

  await step(
    "a failed change leaves no event: a confirm refused for capacity, a stale If-Match, a late edit",
    async () => {
      const small = await book(t, carol.access, booking("2027-05-04T10:00:00Z", 1, 100));
      await bookConfirmed(t, dave.access, admin.access, booking("2027-05-04T10:00:00Z", 1, 49_950));
      const before = (await history(small.id, admin.access)).body.results;
      assertProblem(await confirm(t, admin.access, small.id), 409, "CAPACITY_EXCEEDED");
      assertProblem(
        await t.request("PATCH", reservation(small.id), {
          token: carol.access,
          body: { headcount: 10 },
          headers: { "If-Match": '"0.0"' },
        }),
        412,
        "PRECONDITION_FAILED",
      );
      assertProblem(
        await t.request("PATCH", reservation(small.id), { token: carol.access, body: { headcount: 200 } }),
        409,
        "CAPACITY_EXCEEDED",
      );
      await t.clock.at("2027-05-02T00:00:00Z", async () => {
        const late = await t.request("POST", api("/users/login/"), {
          body: { email: carol.email, password: carol.password },
        });
        const edit = await t.request("PATCH", reservation(small.id), {
          token: late.body.access,
          body: { headcount: 10 },
        });
        assertProblem(edit, 400, "BOOKING_DEADLINE_PASSED");
      });
      assertEquals((await history(small.id, admin.access)).body.results, before);
    },
  );

  await step("deleting a user records a released event per reservation, by whoever deleted them", async () => {
    const erin = await t.customer("erin");
    const pending = await book(t, erin.access, booking("2027-05-05T10:00:00Z", 1, 100));
    const confirmed = await bookConfirmed(t, erin.access, admin.access, booking("2027-05-05T11:00:00Z", 1, 100));
    const gone = await t.request("DELETE", api(`/users/${erin.id}/`), {
      token: admin.access,
      headers: { "X-Request-Id": "history-release" },
    });
    assertEquals(gone.status, 204);
    for (const id of [pending.id, confirmed.id]) {
      const events: Event[] = (await history(id, admin.access)).body.results;
      assertEquals(events.at(-1)?.action, "released");
      assertEquals(events.filter((e) => e.action === "released").map((e) => [e.actor_id, e.request_id]), [
        [admin.id, "history-release"],
      ]);
    }

    const fay = await t.customer("fay");
    const own = await book(t, fay.access, booking("2027-05-05T12:00:00Z", 1, 100));
    assertEquals((await t.request("DELETE", api(`/users/${fay.id}/`), { token: fay.access })).status, 204);
    const events: Event[] = (await history(own.id, admin.access)).body.results;
    assertEquals(events.map((e) => [e.action, e.actor_id]), [["created", fay.id], ["released", fay.id]]);
  });

  await step("the audit list shows every reservation's events, deleted ones included, newest first", async () => {
    const reply = await audit(`reservation_id=${deleted}`);
    assertEquals(reply.status, 200);
    assertEquals(reply.body.count, 5);
    assertEquals(reply.body.results.map((e: Event) => e.action), [
      "deleted",
      "changed",
      "confirmed",
      "changed",
      "created",
    ]);
    const all = await audit("page_size=100");
    const [{ total }] = await t.sql`SELECT count(*)::int AS total FROM reservation_events`;
    assertEquals(all.body.count, total);
    const times = all.body.results.map((e: Event) => e.at);
    assertEquals(times, [...times].sort().reverse());
  });

  await step("the audit list filters by reservation, actor, action and a [from, to) window on the time", async () => {
    const gina = await auditedCustomer(t, "gina");
    const ids = gina.reservations;
    const byActor = await audit(`actor_id=${gina.id}`);
    assertEquals(byActor.body.results.map((e: Event) => [e.action, e.actor_id]), [
      ["changed", gina.id],
      ["created", gina.id],
      ["created", gina.id],
      ["created", gina.id],
    ]);
    const byReservation = await audit(`reservation_id=${ids[0]}`);
    assertEquals(byReservation.body.results.map((e: Event) => e.action), ["confirmed", "changed", "created"]);
    const confirmations = await audit(`reservation_id=${ids[0]}&action=confirmed`);
    assertEquals(confirmations.body.results.map((e: Event) => e.actor_id), [admin.id]);
    const window = await audit(`actor_id=${gina.id}&from=${gina.times[1]}&to=${gina.times[3]}`);
    assertEquals(window.body.results.map((e: Event) => e.at), [gina.times[2], gina.times[1]]);
    const offset = await audit(`actor_id=${gina.id}&from=${encodeURIComponent(gina.times[3].replace("Z", "+00:00"))}`);
    assertEquals(offset.body.count, 1);
    const refused = [
      "action=moved",
      "reservation_id=abc",
      "actor_id=0",
      "from=yesterday",
      `from=${gina.times[3]}&to=${gina.times[1]}`,
    ];
    for (const query of refused) {
      assertProblem(await audit(query), 400, "VALIDATION_ERROR");
    }
  });

  await step("the audit list paginates with count, next and previous", async () => {
    const hal = await auditedCustomer(t, "hal");
    const first = await audit(`actor_id=${hal.id}&page_size=3`);
    assertEquals([first.body.count, first.body.results.length, first.body.previous], [4, 3, null]);
    const next = new URL(first.body.next);
    assertEquals([next.searchParams.get("page"), next.searchParams.get("actor_id")], ["2", String(hal.id)]);
    const second = await t.request("GET", next.pathname + next.search, { token: admin.access });
    assertEquals([second.body.results.length, second.body.next], [1, null]);
    assert(second.body.previous);
    const pages = [...first.body.results, ...second.body.results].map((e: Event) => e.id);
    assertEquals(new Set(pages).size, 4);
    const past = await audit(`actor_id=${hal.id}&page=3&page_size=3`);
    assertEquals([past.status, past.body.count, past.body.results], [200, 4, []]);
  });

  /** A customer with three reservations made ten seconds apart, the first changed and confirmed by the admin. */
  async function auditedCustomer(t: TestContext, name: string) {
    const customer = await t.customer(name);
    const times: string[] = [];
    const reservations: number[] = [];
    for (let i = 0; i < 3; i++) {
      t.clock.advance(10);
      times.push(t.clock.read().toISOString());
      reservations.push((await book(t, customer.access, booking(`2027-05-06T1${i}:00:00Z`, 1, 10))).id);
    }
    t.clock.advance(10);
    times.push(t.clock.read().toISOString());
    const changed = await t.request("PATCH", reservation(reservations[0]), {
      token: customer.access,
      body: { headcount: 20 },
    });
    assertEquals(changed.status, 200);
    assertEquals((await confirm(t, admin.access, reservations[0])).status, 200);
    return { id: customer.id as number, reservations, times };
  }
});

for (const backend of backends) {
  Deno.test(`history – a reservation keeps at most MAX_EVENTS_PER_RESERVATION events: a change past them is 409 TOO_MANY_CHANGES, deleting still works (${backend})`, async () => {
    await withContext({ backend, env: { MAX_EVENTS_PER_RESERVATION: "5" } }, async (t) => {
      const admin = await t.admin("capped-admin");
      const carol = await t.customer("capped-carol");
      const { id } = await book(t, carol.access, booking("2027-05-01T10:00:00Z", 1, 100));
      const patch = (token: string, headcount: number) =>
        t.request("PATCH", api(`/reservations/${id}/`), { token, body: { headcount } });
      const events = async () => {
        const [{ count }] = await t
          .sql`SELECT count(*)::int AS count FROM reservation_events WHERE reservation_id = ${id}`;
        return count;
      };
      assertEquals((await patch(carol.access, 101)).status, 200);
      assertEquals((await patch(carol.access, 102)).status, 200);
      assertEquals((await confirm(t, admin.access, id)).status, 200);
      const [{ version }] = await t.sql`SELECT version FROM reservations WHERE id = ${id}`;
      assertEquals([version, await events()], [4, 4], "the version counts the events");
      const before = await t.sql`SELECT * FROM reservations WHERE id = ${id}`;
      for (let i = 0; i < 3; i++) assertProblem(await patch(admin.access, 103 + i), 409, "TOO_MANY_CHANGES");
      assertEquals(await t.sql`SELECT * FROM reservations WHERE id = ${id}`, before);
      assertEquals(await events(), 4);
      assertEquals((await t.request("DELETE", api(`/reservations/${id}/`), { token: admin.access })).status, 204);
      assertEquals(await events(), 5, "its deletion took the place kept for it");

      const pending = await book(t, carol.access, booking("2027-05-02T10:00:00Z", 1, 100));
      for (let i = 0; i < 3; i++) {
        assertEquals(
          (await t.request("PATCH", api(`/reservations/${pending.id}/`), {
            token: carol.access,
            body: { headcount: 10 + i },
          })).status,
          200,
        );
      }
      assertProblem(await confirm(t, admin.access, pending.id), 409, "TOO_MANY_CHANGES");
      assertEquals(
        (await t.request("DELETE", api(`/reservations/${pending.id}/`), { token: carol.access })).status,
        204,
      );
    });
  });
}
