import { assert, assertEquals, assertMatch } from "./support/assert.ts";
import { backendsAndPooler, describeOnEveryBackend } from "./support/app.ts";
import { book, bookConfirmed, booking, confirm, confirmedOn, freshAccess } from "./support/reservations.ts";
import { capacityDrift } from "../src/reservations/capacity.ts";
import { createReservation } from "../src/reservations/reservations.service.ts";
import { AppError } from "../src/http/problem.ts";
import type { Caller } from "../src/auth/auth.schemas.ts";
import { api } from "../harness/paths.ts";

// The test clock starts at 2027-04-01T00:00Z, so customers may book from 2027-04-04T00:00Z on.
// Every step works on a day of its own so that capacity used by one step never leaks into another.

describeOnEveryBackend("reservations", async (step, t) => {
  const admin = await t.admin("root");
  const carol = await t.customer("carol");
  const dave = await t.customer("dave");
  const reservation = (id: number) => api(`/reservations/${id}/`);

  await step("a customer books a window and gets a pending reservation with UTC timestamps", async () => {
    const reply = await t.request("POST", api("/reservations/"), {
      token: carol.access,
      body: { start_at: "2027-04-10T14:00:00+09:00", end_at: "2027-04-10T16:00:00+09:00", headcount: 1200 },
    });
    assertEquals(reply.status, 201);
    assertEquals(reply.body, {
      id: reply.body.id,
      user_id: carol.id,
      start_at: "2027-04-10T05:00:00.000Z",
      end_at: "2027-04-10T07:00:00.000Z",
      headcount: 1200,
      status: "pending",
      created_at: "2027-04-01T00:00:00.000Z",
      updated_at: "2027-04-01T00:00:00.000Z",
      confirmed_at: null,
      rejected_at: null,
      reject_reason: null,
    });
  });

  await step("status, user_id and confirmed_at in a body are ignored, never applied", async () => {
    const created = await book(t, carol.access, {
      ...booking("2027-04-11T10:00:00Z", 1, 10),
      status: "confirmed",
      user_id: dave.id,
      confirmed_at: "2027-04-01T00:00:00Z",
    });
    assertEquals([created.status, created.user_id, created.confirmed_at], ["pending", carol.id, null]);
    const patched = await t.request("PATCH", reservation(created.id), {
      token: carol.access,
      body: { status: "confirmed", user_id: dave.id, confirmed_at: "2027-04-01T00:00:00Z", headcount: 20 },
    });
    assertEquals(patched.status, 200);
    assertEquals([patched.body.status, patched.body.user_id, patched.body.confirmed_at], ["pending", carol.id, null]);
    assertEquals(patched.body.headcount, 20);
  });

  await step("a window must be on slot boundaries, start before it ends and last at most 24 hours", async () => {
    const refused = [
      [{ start_at: "2027-04-12T10:30:00Z", end_at: "2027-04-12T12:00:00Z" }, ["start_at"]],
      [{ start_at: "2027-04-12T10:00:00Z", end_at: "2027-04-12T12:00:01Z" }, ["end_at"]],
      [{ start_at: "2027-04-12T10:00:00Z", end_at: "2027-04-12T10:00:00Z" }, ["end_at"]],
      [{ start_at: "2027-04-12T12:00:00Z", end_at: "2027-04-12T10:00:00Z" }, ["end_at"]],
      [{ start_at: "2027-04-12T10:00:00Z", end_at: "2027-04-13T11:00:00Z" }, ["end_at"]],
    ] as const;
    for (const [window, paths] of refused) {
      const reply = await t.request("POST", api("/reservations/"), {
        token: carol.access,
        body: { ...window, headcount: 10 },
      });
      assertEquals(reply.status, 400, JSON.stringify(window));
      assertEquals(reply.body.code, "VALIDATION_ERROR");
      assertEquals(reply.body.errors.map((e: { path: string }) => e.path), paths);
    }
    await book(t, carol.access, booking("2027-04-12T10:00:00Z", 24, 10));
  });

  await step("headcount is an integer from 1 to MAX_CONCURRENT_EXAMINEES", async () => {
    for (const headcount of [0, -1, 1.5, "10", null, 50_001]) {
      const reply = await t.request("POST", api("/reservations/"), {
        token: carol.access,
        body: { ...booking("2027-04-13T10:00:00Z", 1, 1), headcount },
      });
      assertEquals(reply.status, 400, String(headcount));
      assertEquals(reply.body.errors[0].path, "headcount");
    }
    await book(t, carol.access, booking("2027-04-13T10:00:00Z", 1, 50_000));
  });

  await step("a malformed or offset-less timestamp, or a missing field, is 400 VALIDATION_ERROR", async () => {
    const good = booking("2027-04-14T10:00:00Z", 1, 10);
    const bodies = [
      { ...good, start_at: "tomorrow" },
      { ...good, start_at: "2027-04-14T10:00:00" },
      { ...good, start_at: "2027-02-30T10:00:00Z" },
      { ...good, end_at: 1776160800000 },
      { start_at: good.start_at, headcount: 10 },
    ];
    for (const body of bodies) {
      const reply = await t.request("POST", api("/reservations/"), { token: carol.access, body });
      assertEquals(reply.status, 400, JSON.stringify(body));
      assertEquals(reply.body.code, "VALIDATION_ERROR");
    }
  });

  await step("a customer books exactly BOOKING_LEAD_DAYS ahead, but not one minute less", async () => {
    const body = booking("2027-04-20T10:00:00Z", 1, 10);
    await t.clock.at("2027-04-17T10:01:00Z", async () => {
      const late = await t.request("POST", api("/reservations/"), { token: await freshAccess(t, carol), body });
      assertEquals(late.status, 400);
      assertEquals(late.body.code, "BOOKING_DEADLINE_PASSED");
    });
    await t.clock.at("2027-04-17T10:00:00Z", async () => {
      await book(t, await freshAccess(t, carol), body);
    });
  });

  await step("an admin is not bound by the lead time, but nobody books a window that has started", async () => {
    await t.clock.at("2027-04-21T09:00:00Z", async () => {
      const token = await freshAccess(t, admin);
      await book(t, token, booking("2027-04-21T10:00:00Z", 1, 10));
      for (const start of ["2027-04-21T09:00:00Z", "2027-04-21T08:00:00Z"]) {
        const reply = await t.request("POST", api("/reservations/"), {
          token,
          body: booking(start, 2, 10),
        });
        assertEquals(reply.status, 400, start);
        assertEquals(reply.body.code, "BOOKING_DEADLINE_PASSED");
      }
    });
  });

  await step("with 30,000 confirmed on 14:00–16:00, 20,000 more are accepted and 20,001 refused", async () => {
    await bookConfirmed(t, dave.access, admin.access, booking("2027-04-22T14:00:00Z", 2, 30_000));
    const refused = await t.request("POST", api("/reservations/"), {
      token: carol.access,
      body: booking("2027-04-22T13:00:00Z", 2, 20_001),
    });
    assertEquals(refused.status, 409);
    assertEquals(refused.body.code, "CAPACITY_EXCEEDED");
    assertMatch(refused.body.detail, /2027-04-22T14:00:00\.000Z.*20000 of 50000/);
    await book(t, carol.access, booking("2027-04-22T14:00:00Z", 2, 20_000));
  });

  await step("pending reservations do not count against capacity", async () => {
    await book(t, carol.access, booking("2027-04-23T10:00:00Z", 1, 50_000));
    await book(t, dave.access, booking("2027-04-23T10:00:00Z", 1, 50_000));
    assertEquals((await confirmedOn(t, carol.access, "2027-04-23"))["2027-04-23T10:00:00.000Z"], 0);
  });

  await step("an admin confirms a pending reservation: status confirmed, confirmed_at now", async () => {
    const pending = await book(t, carol.access, booking("2027-04-24T10:00:00Z", 2, 700));
    t.clock.advance(60);
    const reply = await confirm(t, admin.access, pending.id);
    assertEquals(reply.status, 200);
    assertEquals(reply.body.status, "confirmed");
    assertEquals(reply.body.confirmed_at, t.clock.now.toISOString());
    assertEquals(reply.body.updated_at, t.clock.now.toISOString());
    const slots = await confirmedOn(t, carol.access, "2027-04-24");
    assertEquals([slots["2027-04-24T10:00:00.000Z"], slots["2027-04-24T11:00:00.000Z"]], [700, 700]);
  });

  await step("confirming twice is 409 RESERVATION_NOT_PENDING; a missing reservation is 404", async () => {
    const confirmed = await bookConfirmed(t, carol.access, admin.access, booking("2027-04-25T10:00:00Z", 1, 5));
    const again = await confirm(t, admin.access, confirmed.id);
    assertEquals(again.status, 409);
    assertEquals(again.body.code, "RESERVATION_NOT_PENDING");
    assertEquals((await confirmedOn(t, carol.access, "2027-04-25"))["2027-04-25T10:00:00.000Z"], 5);
    assertEquals((await confirm(t, admin.access, 999_999)).status, 404);
  });

  await step("confirmation re-checks capacity: a request that no longer fits is 409 and stays pending", async () => {
    const first = await book(t, carol.access, booking("2027-04-26T10:00:00Z", 1, 30_000));
    const second = await book(t, dave.access, booking("2027-04-26T09:00:00Z", 3, 30_000));
    assertEquals((await confirm(t, admin.access, first.id)).status, 200);
    const refused = await confirm(t, admin.access, second.id);
    assertEquals(refused.status, 409);
    assertEquals(refused.body.code, "CAPACITY_EXCEEDED");
    assertMatch(refused.body.detail, /2027-04-26T10:00:00\.000Z.*20000 of 50000/);
    assertEquals((await t.request("GET", reservation(second.id), { token: dave.access })).body.status, "pending");
    const slots = await confirmedOn(t, carol.access, "2027-04-26");
    assertEquals(
      [slots["2027-04-26T09:00:00.000Z"], slots["2027-04-26T10:00:00.000Z"], slots["2027-04-26T11:00:00.000Z"]],
      [0, 30_000, 0],
    );
  });

  await step("a customer cannot confirm a reservation, not even their own", async () => {
    const own = await book(t, carol.access, booking("2027-04-27T10:00:00Z", 1, 5));
    const reply = await confirm(t, carol.access, own.id);
    assertEquals(reply.status, 403);
    assertEquals(reply.body.code, "FORBIDDEN");
  });

  await step("nobody confirms a window that has already started", async () => {
    const pending = await book(t, carol.access, booking("2027-04-28T10:00:00Z", 2, 5));
    await t.clock.at("2027-04-28T10:00:00Z", async () => {
      const reply = await confirm(t, await freshAccess(t, admin), pending.id);
      assertEquals(reply.status, 400);
      assertEquals(reply.body.code, "BOOKING_DEADLINE_PASSED");
    });
    await t.clock.at("2027-04-28T09:59:59Z", async () => {
      assertEquals((await confirm(t, await freshAccess(t, admin), pending.id)).status, 200);
    });
  });

  await step("another customer's reservation is 404 to read, edit or delete, and stays untouched", async () => {
    const carols = await book(t, carol.access, booking("2027-04-29T10:00:00Z", 1, 5));
    const path = reservation(carols.id);
    for (
      const reply of [
        await t.request("GET", path, { token: dave.access }),
        await t.request("PATCH", path, { token: dave.access, body: { headcount: 6 } }),
        await t.request("DELETE", path, { token: dave.access }),
      ]
    ) {
      assertEquals(reply.status, 404);
      assertEquals(reply.body.code, "NOT_FOUND");
    }
    assertEquals((await t.request("GET", path, { token: carol.access })).body, carols);
    assertEquals((await t.request("GET", path, { token: admin.access })).status, 200);
  });

  await step("a customer lists only their own reservations, newest first, ignoring a user_id filter", async () => {
    const erin = await t.customer("erin");
    const ids = [];
    for (const hour of [10, 11, 12]) {
      t.clock.advance(1);
      ids.push((await book(t, erin.access, booking(`2027-04-30T${hour}:00:00Z`, 1, 5))).id);
    }
    const reply = await t.request("GET", api(`/reservations/?user_id=${carol.id}`), { token: erin.access });
    assertEquals(reply.status, 200);
    assertEquals(reply.body.count, 3);
    assertEquals(reply.body.results.map((r: { id: number }) => r.id), ids.reverse());
  });

  await step("an admin lists everyone's, filtered by user_id, status and an overlapping window", async () => {
    const frank = await t.customer("frank");
    const early = await bookConfirmed(t, frank.access, admin.access, booking("2027-05-01T08:00:00Z", 2, 5));
    const late = await book(t, frank.access, booking("2027-05-01T12:00:00Z", 2, 5));
    const list = async (query: string) => {
      const reply = await t.request("GET", api(`/reservations/?user_id=${frank.id}&${query}`), {
        token: admin.access,
      });
      assertEquals(reply.status, 200, query);
      return reply.body.results.map((r: { id: number }) => r.id);
    };
    assertEquals(await list(""), [late.id, early.id]);
    assertEquals(await list("status=confirmed"), [early.id]);
    assertEquals(await list("status=pending"), [late.id]);
    assertEquals(await list("from=2027-05-01T09:00:00Z&to=2027-05-01T12:00:00Z"), [early.id]);
    assertEquals(await list("from=2027-05-01T10:00:00Z"), [late.id]);
    assertEquals(await list("to=2027-05-01T12:00:00%2B00:00"), [early.id]);
    const all = await t.request("GET", api("/reservations/"), { token: admin.access });
    assert(all.body.count > 2);
  });

  await step("bad list filters are 400", async () => {
    for (
      const query of [
        "status=cancelled",
        "user_id=abc",
        "from=yesterday",
        "from=2027-05-01T12:00:00Z&to=2027-05-01T12:00:00Z",
        "page=0",
      ]
    ) {
      const reply = await t.request("GET", api(`/reservations/?${query}`), { token: admin.access });
      assertEquals(reply.status, 400, query);
      assertEquals(reply.body.code, "VALIDATION_ERROR");
    }
  });

  await step("lists are paginated with absolute links; a page past the end is empty", async () => {
    const first = await t.request("GET", api("/reservations/?page_size=2"), { token: admin.access });
    assertEquals(first.body.results.length, 2);
    assertEquals(first.body.previous, null);
    assert(first.body.next.startsWith(`http://api.test${api("/reservations")}`));
    const past = await t.request("GET", api("/reservations/?page=999"), { token: admin.access });
    assertEquals([past.status, past.body.results], [200, []]);
  });

  await step("the owner edits a pending reservation, validated as the resulting reservation", async () => {
    const pending = await book(t, carol.access, booking("2027-05-02T10:00:00Z", 2, 5));
    t.clock.advance(60);
    const moved = await t.request("PATCH", reservation(pending.id), {
      token: carol.access,
      body: { start_at: "2027-05-02T20:00:00+09:00", headcount: 8 },
    });
    assertEquals(moved.status, 200);
    assertEquals([moved.body.start_at, moved.body.end_at, moved.body.headcount], [
      "2027-05-02T11:00:00.000Z",
      "2027-05-02T12:00:00.000Z",
      8,
    ]);
    assertEquals(moved.body.updated_at, t.clock.now.toISOString());
    const inverted = await t.request("PATCH", reservation(pending.id), {
      token: carol.access,
      body: { start_at: "2027-05-02T12:00:00Z" },
    });
    assertEquals(inverted.status, 400);
    assertEquals(inverted.body.errors[0].path, "end_at");
    assertEquals((await t.request("PATCH", reservation(pending.id), { token: carol.access, body: {} })).status, 200);
  });

  await step("a customer edit must keep to the lead time, for the current and the new start", async () => {
    const soon = await book(t, carol.access, booking("2027-05-03T10:00:00Z", 1, 5));
    const later = await book(t, carol.access, booking("2027-05-10T10:00:00Z", 1, 5));
    await t.clock.at("2027-04-30T10:01:00Z", async () => {
      const token = await freshAccess(t, carol);
      const away = await t.request("PATCH", reservation(soon.id), {
        token,
        body: booking("2027-05-12T10:00:00Z", 1, 5),
      });
      const closer = await t.request("PATCH", reservation(later.id), {
        token,
        body: booking("2027-05-03T10:00:00Z", 1, 5),
      });
      for (const reply of [away, closer]) {
        assertEquals(reply.status, 400);
        assertEquals(reply.body.code, "BOOKING_DEADLINE_PASSED");
      }
    });
  });

  await step("a pending edit that no longer fits the confirmed capacity is refused up front", async () => {
    await bookConfirmed(t, dave.access, admin.access, booking("2027-05-04T11:00:00Z", 1, 45_000));
    const pending = await book(t, carol.access, booking("2027-05-04T10:00:00Z", 1, 6_000));
    const reply = await t.request("PATCH", reservation(pending.id), {
      token: carol.access,
      body: { end_at: "2027-05-04T12:00:00Z" },
    });
    assertEquals(reply.status, 409);
    assertEquals(reply.body.code, "CAPACITY_EXCEEDED");
    assertMatch(reply.body.detail, /2027-05-04T11:00:00\.000Z/);
  });

  await step("the owner cannot edit or delete a confirmed reservation: 409 RESERVATION_NOT_PENDING", async () => {
    const confirmed = await bookConfirmed(t, carol.access, admin.access, booking("2027-05-05T10:00:00Z", 1, 5));
    const edit = await t.request("PATCH", reservation(confirmed.id), { token: carol.access, body: { headcount: 6 } });
    const remove = await t.request("DELETE", reservation(confirmed.id), { token: carol.access });
    for (const reply of [edit, remove]) {
      assertEquals(reply.status, 409);
      assertEquals(reply.body.code, "RESERVATION_NOT_PENDING");
    }
    assertEquals((await t.request("GET", reservation(confirmed.id), { token: carol.access })).body, confirmed);
  });

  await step("the owner deletes a pending reservation", async () => {
    const pending = await book(t, carol.access, booking("2027-05-06T10:00:00Z", 1, 5));
    assertEquals((await t.request("DELETE", reservation(pending.id), { token: carol.access })).status, 204);
    assertEquals((await t.request("GET", reservation(pending.id), { token: carol.access })).status, 404);
  });

  await step("an admin edit of a confirmed reservation moves its capacity to the new window", async () => {
    const confirmed = await bookConfirmed(t, carol.access, admin.access, booking("2027-05-07T10:00:00Z", 2, 10_000));
    const reply = await t.request("PATCH", reservation(confirmed.id), {
      token: admin.access,
      body: { ...booking("2027-05-07T11:00:00Z", 3, 15_000) },
    });
    assertEquals(reply.status, 200);
    assertEquals(reply.body.status, "confirmed");
    const slots = await confirmedOn(t, carol.access, "2027-05-07");
    assertEquals(
      ["10", "11", "12", "13", "14"].map((hour) => slots[`2027-05-07T${hour}:00:00.000Z`]),
      [0, 15_000, 15_000, 15_000, 0],
    );
  });

  await step(
    "an admin move counts the reservation's own headcount once where old and new windows overlap",
    async () => {
      const confirmed = await bookConfirmed(t, carol.access, admin.access, booking("2027-05-08T10:00:00Z", 2, 30_000));
      await bookConfirmed(t, dave.access, admin.access, booking("2027-05-08T12:00:00Z", 1, 20_000));
      const reply = await t.request("PATCH", reservation(confirmed.id), {
        token: admin.access,
        body: { start_at: "2027-05-08T11:00:00Z", end_at: "2027-05-08T13:00:00Z" },
      });
      assertEquals(reply.status, 200);
      const slots = await confirmedOn(t, carol.access, "2027-05-08");
      assertEquals(
        ["10", "11", "12"].map((hour) => slots[`2027-05-08T${hour}:00:00.000Z`]),
        [0, 30_000, 50_000],
      );
    },
  );

  await step("an admin move that does not fit is 409 CAPACITY_EXCEEDED and changes nothing", async () => {
    const confirmed = await bookConfirmed(t, carol.access, admin.access, booking("2027-05-09T10:00:00Z", 1, 10_000));
    await bookConfirmed(t, dave.access, admin.access, booking("2027-05-09T12:00:00Z", 1, 45_000));
    const before = await confirmedOn(t, carol.access, "2027-05-09");
    const reply = await t.request("PATCH", reservation(confirmed.id), {
      token: admin.access,
      body: { start_at: "2027-05-09T11:00:00Z", end_at: "2027-05-09T13:00:00Z" },
    });
    assertEquals(reply.status, 409);
    assertEquals(reply.body.code, "CAPACITY_EXCEEDED");
    assertMatch(reply.body.detail, /2027-05-09T12:00:00\.000Z.*5000 of 50000/);
    assertEquals(await confirmedOn(t, carol.access, "2027-05-09"), before);
    assertEquals((await t.request("GET", reservation(confirmed.id), { token: admin.access })).body, confirmed);
  });

  await step("an admin cannot change a reservation whose window has started, nor move one into the past", async () => {
    const confirmed = await bookConfirmed(t, carol.access, admin.access, booking("2027-05-11T10:00:00Z", 2, 5));
    await t.clock.at("2027-05-11T10:30:00Z", async () => {
      const started = await t.request("PATCH", reservation(confirmed.id), {
        token: await freshAccess(t, admin),
        body: { headcount: 6 },
      });
      assertEquals(started.status, 400);
      assertEquals(started.body.code, "BOOKING_DEADLINE_PASSED");
    });
    await t.clock.at("2027-05-11T09:00:00Z", async () => {
      const intoThePast = await t.request("PATCH", reservation(confirmed.id), {
        token: await freshAccess(t, admin),
        body: booking("2027-05-11T08:00:00Z", 1, 5),
      });
      assertEquals(intoThePast.status, 400);
      assertEquals(intoThePast.body.code, "BOOKING_DEADLINE_PASSED");
    });
  });

  await step("an admin deletes a confirmed reservation and its slots are released", async () => {
    const confirmed = await bookConfirmed(t, carol.access, admin.access, booking("2027-05-13T10:00:00Z", 2, 9_000));
    assertEquals((await t.request("DELETE", reservation(confirmed.id), { token: admin.access })).status, 204);
    const slots = await confirmedOn(t, carol.access, "2027-05-13");
    assertEquals([slots["2027-05-13T10:00:00.000Z"], slots["2027-05-13T11:00:00.000Z"]], [0, 0]);
    assertEquals((await t.request("DELETE", reservation(confirmed.id), { token: admin.access })).status, 404);
  });

  await step("deleting a user releases all their confirmed capacity", async () => {
    const gina = await t.customer("gina");
    await bookConfirmed(t, gina.access, admin.access, booking("2027-05-14T10:00:00Z", 3, 20_000));
    await bookConfirmed(t, gina.access, admin.access, booking("2027-05-14T11:00:00Z", 1, 5_000));
    await book(t, gina.access, booking("2027-05-14T11:00:00Z", 1, 7_000));
    await bookConfirmed(t, dave.access, admin.access, booking("2027-05-14T11:00:00Z", 1, 1_000));
    assertEquals((await t.request("DELETE", api(`/users/${gina.id}/`), { token: admin.access })).status, 204);
    const slots = await confirmedOn(t, carol.access, "2027-05-14");
    assertEquals(
      ["10", "11", "12"].map((hour) => slots[`2027-05-14T${hour}:00:00.000Z`]),
      [0, 1_000, 0],
    );
  });

  await step("a bad id is 400, no token is 401, and paths work without their trailing slash", async () => {
    assertEquals((await t.request("GET", api("/reservations/abc/"), { token: carol.access })).status, 400);
    assertEquals((await t.request("GET", api("/reservations/"))).status, 401);
    assertEquals((await t.request("GET", api("/reservations"), { token: carol.access })).status, 200);
    const own = await book(t, carol.access, booking("2027-05-15T10:00:00Z", 1, 5));
    assertEquals((await t.request("GET", api(`/reservations/${own.id}`), { token: carol.access })).status, 200);
    assertEquals(
      (await t.request("POST", api(`/reservations/${own.id}/confirm`), { token: admin.access })).status,
      200,
    );
  });

  await step("a booking whose user is deleted while it is in flight is 401, not a 500", async () => {
    // The guard has already let the request through; the account goes before the insert runs.
    const id = 2_000_000_000;
    const user = { id, username: "ghost", email: "ghost@example.test", is_admin: false, date_joined: "" };
    const known = Promise.resolve(user);
    const ghost: Caller = {
      id,
      user: known,
      userQuery: (sql) => sql`NULL::json`,
      settle: () => known,
      admits: (sql) => sql`true`,
    };
    const attempt = createReservation({ sql: t.sql, config: t.config, clock: t.clock.read }, ghost, {
      start_at: new Date("2027-05-16T10:00:00Z"),
      end_at: new Date("2027-05-16T11:00:00Z"),
      headcount: 5,
    }, { requestId: "in-flight-deletion" });
    const error = await attempt.then(() => undefined, (e) => e);
    assert(error instanceof AppError);
    assertEquals(error.code, "UNAUTHENTICATED");
  });

  await step("after all of the above, every slot counter equals the sum of its confirmed reservations", async () => {
    assertEquals(await capacityDrift(t.sql, t.config), []);
  });
}, backendsAndPooler);
