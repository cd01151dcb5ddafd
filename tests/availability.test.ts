import { assertEquals } from "./support/assert.ts";
import { describeOnEveryBackend, withContext } from "./support/app.ts";
import { book, bookConfirmed, booking } from "./support/reservations.ts";
import { api } from "../harness/paths.ts";

describeOnEveryBackend("availability", async (step, t) => {
  const admin = await t.admin("root");
  const carol = await t.customer("carol");
  const availability = (query: string) => t.request("GET", api(`/availability/?${query}`), { token: carol.access });

  await step("a date gives the 24 slots of that UTC day, all at full capacity when nothing is confirmed", async () => {
    const reply = await availability("date=2027-04-15");
    assertEquals(reply.status, 200);
    assertEquals(reply.body.slots.length, 24);
    assertEquals(reply.body.slots[0], {
      start_at: "2027-04-15T00:00:00.000Z",
      end_at: "2027-04-15T01:00:00.000Z",
      capacity: 50_000,
      confirmed: 0,
      remaining: 50_000,
    });
    assertEquals(reply.body.slots[23].start_at, "2027-04-15T23:00:00.000Z");
  });

  await step(
    "confirmed reservations lower the remaining capacity of the slots they cover; pending ones do not",
    async () => {
      await bookConfirmed(t, carol.access, admin.access, booking("2027-04-16T14:00:00Z", 2, 30_000));
      await book(t, carol.access, booking("2027-04-16T14:00:00Z", 3, 5_000));
      const { slots } = (await availability("date=2027-04-16")).body;
      assertEquals(
        slots.slice(13, 17).map((s: { confirmed: number; remaining: number }) => [s.confirmed, s.remaining]),
        [[0, 50_000], [30_000, 20_000], [30_000, 20_000], [0, 50_000]],
      );
    },
  );

  await step("from and to give the slots of that window, to exclusive, in any offset", async () => {
    const reply = await availability(
      `from=${encodeURIComponent("2027-04-16T23:00:00+09:00")}&to=${encodeURIComponent("2027-04-17T02:00:00+09:00")}`,
    );
    assertEquals(reply.status, 200);
    assertEquals(reply.body.slots.map((s: { start_at: string; confirmed: number }) => [s.start_at, s.confirmed]), [
      ["2027-04-16T14:00:00.000Z", 30_000],
      ["2027-04-16T15:00:00.000Z", 30_000],
      ["2027-04-16T16:00:00.000Z", 0],
    ]);
  });

  await step("a window of exactly 31 days is accepted; one slot more is 400", async () => {
    const month = await availability("from=2027-05-01T00:00:00Z&to=2027-06-01T00:00:00Z");
    assertEquals(month.status, 200);
    assertEquals(month.body.slots.length, 31 * 24);
    const longer = await availability("from=2027-05-01T00:00:00Z&to=2027-06-01T01:00:00Z");
    assertEquals(longer.status, 400);
    assertEquals(longer.body.errors[0].path, "to");
  });

  await step("neither or both forms, half a window, a misaligned, reversed or malformed one is 400", async () => {
    const refused = [
      "",
      "date=2027-04-15&from=2027-04-15T00:00:00Z&to=2027-04-15T01:00:00Z",
      "from=2027-04-15T00:00:00Z",
      "to=2027-04-15T01:00:00Z",
      "from=2027-04-15T00:30:00Z&to=2027-04-15T02:00:00Z",
      "from=2027-04-15T02:00:00Z&to=2027-04-15T01:00:00Z",
      "from=2027-04-15T01:00:00Z&to=2027-04-15T01:00:00Z",
      "date=2027-02-30",
      "date=15-04-2027",
      "date=2027-04-15T00:00:00Z",
      "from=now&to=later",
    ];
    for (const query of refused) {
      const reply = await availability(query);
      assertEquals(reply.status, 400, query);
      assertEquals(reply.body.code, "VALIDATION_ERROR", query);
    }
  });

  await step("availability needs a logged-in user", async () => {
    const reply = await t.request("GET", api("/availability/?date=2027-04-15"));
    assertEquals(reply.status, 401);
    assertEquals((await t.request("GET", api("/availability?date=2027-04-15"), { token: carol.access })).status, 200);
  });
});

Deno.test("with SLOT_MINUTES=30 a day has 48 slots and bookings align to half hours", async () => {
  await withContext({ env: { SLOT_MINUTES: "30" } }, async (t) => {
    const admin = await t.admin();
    const customer = await t.customer();
    await bookConfirmed(t, customer.access, admin.access, {
      start_at: "2027-04-15T10:30:00Z",
      end_at: "2027-04-15T11:30:00Z",
      headcount: 100,
    });
    const reply = await t.request("GET", api("/availability/?date=2027-04-15"), { token: customer.access });
    assertEquals(reply.body.slots.length, 48);
    assertEquals(
      reply.body.slots.slice(20, 24).map((s: { confirmed: number }) => s.confirmed),
      [0, 100, 100, 0],
    );
    const misaligned = await t.request("POST", api("/reservations/"), {
      token: customer.access,
      body: { start_at: "2027-04-15T10:15:00Z", end_at: "2027-04-15T11:30:00Z", headcount: 1 },
    });
    assertEquals(misaligned.status, 400);
  });
});
