// Limits a reservation meets besides the booking rules: the pending cap per customer (MAX_PENDING_PER_USER), and the
// capacity the database itself enforces on a slot's counter, whatever code writes it.
import postgres from "postgres";
import { assert, assertEquals } from "./support/assert.ts";
import { backends, withContext } from "./support/app.ts";
import { assertProblem } from "./support/problems.ts";
import { book, booking, confirm } from "./support/reservations.ts";
import { api } from "../harness/paths.ts";
import { delay } from "../harness/process.ts";

// The test clock starts at 2027-04-01T00:00Z; each booking takes an hour of its own.

for (const backend of backends) {
  Deno.test(`reservations – pending cap of 3 (${backend})`, async (test) => {
    await withContext({ backend, env: { MAX_PENDING_PER_USER: "3" } }, async (t) => {
      const admin = await t.admin("root");
      const carol = await t.customer("carol");
      let hour = 0;
      const next = () => slot(hour++);
      const create = (token: string) => t.request("POST", api("/reservations/"), { token, body: next() });
      const pendingOf = async (token: string) =>
        (await t.request("GET", api("/reservations/?status=pending"), { token })).body.results;

      await test.step("a customer's 4th pending reservation is 409 TOO_MANY_PENDING; nothing is created", async () => {
        for (let i = 0; i < 3; i++) await book(t, carol.access, next());
        const fourth = await create(carol.access);
        assertProblem(fourth, 409, "TOO_MANY_PENDING");
        const [{ count }] = await t.sql`SELECT count(*)::int AS count FROM reservations WHERE user_id = ${carol.id}`;
        assertEquals(count, 3);
      });

      await test.step("confirming one frees a place, and so does deleting one", async () => {
        const [first, second] = await pendingOf(carol.access);
        assertEquals((await confirm(t, admin.access, first.id)).status, 200);
        await book(t, carol.access, next());
        assertProblem(await create(carol.access), 409, "TOO_MANY_PENDING");
        const removed = await t.request("DELETE", api(`/reservations/${second.id}/`), { token: carol.access });
        assertEquals(removed.status, 204);
        await book(t, carol.access, next());
        assertProblem(await create(carol.access), 409, "TOO_MANY_PENDING");
      });

      await test.step("an edit keeps its place; another customer has places of their own", async () => {
        const [latest] = await pendingOf(carol.access);
        const edited = await t.request("PATCH", api(`/reservations/${latest.id}/`), {
          token: carol.access,
          body: { headcount: 99 },
        });
        assertEquals(edited.status, 200);
        assertProblem(await create(carol.access), 409, "TOO_MANY_PENDING");
        const dave = await t.customer("dave");
        for (let i = 0; i < 3; i++) await book(t, dave.access, next());
      });

      await test.step("an admin is not capped", async () => {
        for (let i = 0; i < 5; i++) await book(t, admin.access, next());
      });

      await test.step("10 concurrent creates by one customer with a cap of 3 create exactly 3", async () => {
        const erin = await t.customer("erin");
        const replies = await Promise.all(Array.from({ length: 10 }, () => create(erin.access)));
        const statuses = replies.map((reply) => reply.status === 201 ? "201" : `${reply.status} ${reply.body.code}`);
        assertEquals(statuses.filter((s) => s === "201").length, 3, statuses.join(", "));
        assertEquals(statuses.filter((s) => s !== "201"), Array(7).fill("409 TOO_MANY_PENDING"));
        const [{ pending }] = await t.sql`
          SELECT count(*)::int AS pending FROM reservations WHERE user_id = ${erin.id} AND status = 'pending'`;
        assertEquals(pending, 3);
      });

      await test.step("the count the cap reads always equals the pending reservations", async () => {
        const drift = await t.sql`
          SELECT u.id FROM users u
          WHERE u.pending_count <> (
            SELECT count(*) FROM reservations r WHERE r.user_id = u.id AND r.status = 'pending'
          )`;
        assertEquals([...drift], []);
      });
    });
  });

  Deno.test(`reservations – the database refuses a slot counter over its capacity (${backend})`, async () => {
    await withContext({ backend }, async (t) => {
      const admin = await t.admin("root");
      const { id } = await book(t, admin.access, booking("2027-05-01T10:00:00Z", 1, 100));
      assertEquals((await confirm(t, admin.access, id)).status, 200);
      const [slot] = await t.sql`SELECT confirmed, capacity FROM slot_usage WHERE slot_start = '2027-05-01T10:00:00Z'`;
      assertEquals([slot.confirmed, slot.capacity], [100, t.config.MAX_CONCURRENT_EXAMINEES]);
      const refused = await t.sql`UPDATE slot_usage SET confirmed = capacity + 1`.catch((error) => error);
      assert(refused instanceof postgres.PostgresError, String(refused));
      assertEquals([refused.code, refused.constraint_name], ["23514", "slot_usage_within_capacity"]);
      await t.sql`UPDATE slot_usage SET confirmed = capacity`; // full is allowed
      const [after] = await t.sql`SELECT confirmed FROM slot_usage WHERE slot_start = '2027-05-01T10:00:00Z'`;
      assertEquals(after.confirmed, t.config.MAX_CONCURRENT_EXAMINEES);
    });
  });

  Deno.test(`reservations – the database claims a confirmation's slots at its commit (${backend})`, async (test) => {
    await withContext({ backend }, async (t) => {
      const admin = await t.admin("root");
      const alice = await t.customer("alice");
      const [first, second] = [
        await book(t, alice.access, booking("2027-05-03T10:00:00Z", 2, 100)),
        await book(t, alice.access, booking("2027-05-03T11:00:00Z", 1, 100)),
      ];
      /** A confirmation in SQL alone, against the capacity the database holds; its error, if any. */
      const confirmInSql = (id: number) =>
        t.sql`UPDATE reservations SET status = 'confirmed', confirmed_at = now() WHERE id = ${id}`
          .then(() => undefined, (error) => error);
      const storeCapacity = (capacity: number) =>
        t.sql`SELECT store_capacity_limits(${capacity}, ${t.config.SLOT_MINUTES})`;
      const state = async () => ({
        counters: (await t.sql`SELECT slot_start, confirmed FROM slot_usage WHERE confirmed <> 0 ORDER BY 1`)
          .map((slot) => [slot.slot_start.toISOString(), slot.confirmed]),
        statuses: (await t.sql`SELECT status FROM reservations WHERE user_id = ${alice.id} ORDER BY id`)
          .map((row) => row.status),
        pending: (await t.sql`SELECT pending_count FROM users WHERE id = ${alice.id}`)[0].pending_count,
      });

      await test.step("a confirmation counts its headcount in every slot of its window, and leaves pending", async () => {
        await storeCapacity(150);
        assertEquals(await confirmInSql(first.id), undefined);
        assertEquals(await state(), {
          counters: [["2027-05-03T10:00:00.000Z", 100], ["2027-05-03T11:00:00.000Z", 100]],
          statuses: ["confirmed", "pending"],
          pending: 1,
        });
      });

      await test.step("one that does not fit fails its COMMIT, naming the slot, and changes nothing", async () => {
        const refused = await confirmInSql(second.id);
        assert(refused instanceof postgres.PostgresError, String(refused));
        assertEquals([refused.code, refused.constraint_name], ["23514", "slot_usage_within_capacity"]);
        assertEquals(JSON.parse(refused.detail!), {
          slot_start: "2027-05-03T11:00:00+00:00",
          confirmed: 100,
          headcount: 100,
        });
        assertEquals((await state()).statuses, ["confirmed", "pending"]);
        assertEquals((await state()).pending, 1);
      });

      await test.step("the capacity is the one the service stored from its configuration", async () => {
        await storeCapacity(t.config.MAX_CONCURRENT_EXAMINEES);
        const [limits] = await t.sql`SELECT capacity, slot_minutes FROM capacity_limits()`;
        assertEquals([limits.capacity, limits.slot_minutes], [
          t.config.MAX_CONCURRENT_EXAMINEES,
          t.config.SLOT_MINUTES,
        ]);
      });

      // A second connection holds the slot while the confirmation commits: PGlite's single session cannot.
      if (backend !== "postgres+redis") return;
      await test.step("over HTTP, a confirmation its read let through but its commit refuses is 409", async () => {
        const holder = await t.sql.reserve();
        try {
          await holder`BEGIN`;
          await holder`
            UPDATE slot_usage
            SET confirmed = ${t.config.MAX_CONCURRENT_EXAMINEES - 50}, capacity = ${t.config.MAX_CONCURRENT_EXAMINEES}
            WHERE slot_start = '2027-05-03T11:00Z'`;
          const reply = confirm(t, admin.access, second.id);
          for (let tries = 0; tries < 400; tries++) {
            if ((await t.sql`SELECT FROM pg_stat_activity WHERE wait_event_type = 'Lock'`).length > 0) break;
            await delay(5);
          }
          await holder`COMMIT`;
          const refused = await reply;
          assertProblem(refused, 409, "CAPACITY_EXCEEDED");
          assert(refused.body.detail.includes("2027-05-03T11:00:00.000Z–"), refused.body.detail);
          assert(refused.body.detail.includes(" 50 of "), refused.body.detail);
        } finally {
          holder.release();
        }
        assertEquals((await state()).statuses, ["confirmed", "pending"]);
      });
    });
  });
}

/** A one-hour booking of 10 on the `n`-th hour from 2027-05-01T00:00Z. */
function slot(n: number) {
  return booking(new Date(Date.parse("2027-05-01T00:00:00Z") + n * 3600_000).toISOString(), 1, 10);
}
