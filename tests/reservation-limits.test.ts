// Limits a reservation meets besides the booking rules: the pending cap per customer (MAX_PENDING_PER_USER), and the
// capacity the database itself enforces on a slot's counter, whatever code writes it.
import postgres from "postgres";
import { assert, assertEquals } from "./support/assert.ts";
import { backends, withContext } from "./support/app.ts";
import { assertProblem } from "./support/problems.ts";
import { book, booking, confirm } from "./support/reservations.ts";
import { api } from "../harness/paths.ts";

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
}

/** A one-hour booking of 10 on the `n`-th hour from 2027-05-01T00:00Z. */
function slot(n: number) {
  return booking(new Date(Date.parse("2027-05-01T00:00:00Z") + n * 3600_000).toISOString(), 1, 10);
}
