// The counters every capacity rule reads (each slot's confirmed headcount, each user's pending count) follow from the
// reservations table, whoever writes it: these specs write in SQL alone, as psql or a task would, never through the
// service, and check the counters against the reservations themselves afterwards.
import postgres from "postgres";
import { assert, assertEquals } from "./support/assert.ts";
import { backends, type TestContext, withContext } from "./support/app.ts";
import { capacityDrift, pendingDrift } from "../src/reservations/capacity.ts";

type Window = [start: string, end: string];

/** A user of the test's own, inserted in SQL. */
async function userIn(t: TestContext, name: string): Promise<number> {
  const [user] = await t.sql<{ id: number }[]>`
    INSERT INTO users (username, email, password_hash) VALUES (${name}, ${`${name}@example.test`}, 'unused')
    RETURNING id`;
  return user.id;
}

/** A reservation inserted in SQL, `status` as given; its id. */
async function reservationIn(
  t: TestContext,
  userId: number,
  [start, end]: Window,
  headcount: number,
  status = "pending",
) {
  const [row] = await t.sql<{ id: number }[]>`
    INSERT INTO reservations (user_id, start_at, end_at, headcount, status, confirmed_at)
    VALUES (${userId}, ${start}, ${end}, ${headcount}, ${status}, ${status === "confirmed" ? new Date() : null})
    RETURNING id`;
  return row.id;
}

/** The confirmed count of every slot that holds one, as `{ "10:00": 100 }` (hours of the day, UTC). */
async function slots(t: TestContext): Promise<Record<string, number>> {
  const rows = await t.sql<{ slot_start: Date; confirmed: number }[]>`
    SELECT slot_start, confirmed FROM slot_usage WHERE confirmed <> 0 ORDER BY slot_start`;
  return Object.fromEntries(rows.map((row) => [row.slot_start.toISOString().slice(11, 16), row.confirmed]));
}

const pendingOf = async (t: TestContext, userId: number) =>
  (await t.sql<{ pending_count: number }[]>`SELECT pending_count FROM users WHERE id = ${userId}`)[0].pending_count;

async function assertNoDrift(t: TestContext) {
  assertEquals(await capacityDrift(t.sql, t.config), []);
  assertEquals(await pendingDrift(t.sql), []);
}

const day = "2027-06-01";
const at = (hour: number) => `${day}T${String(hour).padStart(2, "0")}:00:00Z`;
const hours = (from: number, to: number): Window => [at(from), at(to)];

for (const backend of backends) {
  Deno.test(`counters – every write in SQL alone keeps them exact (${backend})`, async (test) => {
    await withContext({ backend }, async (t) => {
      await t.sql`SELECT store_capacity_limits(300, 60)`;
      const owner = await userIn(t, "owner");

      await test.step("a reservation inserted confirmed holds its headcount in every slot of its window", async () => {
        await reservationIn(t, owner, hours(8, 10), 100, "confirmed");
        assertEquals(await slots(t), { "08:00": 100, "09:00": 100 });
        await assertNoDrift(t);
      });

      await test.step("a confirmation claims its slots and leaves its owner's pending count", async () => {
        const id = await reservationIn(t, owner, hours(9, 11), 50);
        assertEquals(await pendingOf(t, owner), 1);
        await t.sql`UPDATE reservations SET status = 'confirmed', confirmed_at = now() WHERE id = ${id}`;
        assertEquals(await slots(t), { "08:00": 100, "09:00": 150, "10:00": 50 });
        assertEquals(await pendingOf(t, owner), 0);
        await assertNoDrift(t);
      });

      await test.step("a move takes its headcount along, counting it once where the windows overlap", async () => {
        const id = await reservationIn(t, owner, hours(12, 14), 100, "confirmed");
        await t.sql`UPDATE reservations SET start_at = ${at(13)}, end_at = ${at(15)}, headcount = 120 WHERE id = ${id}`;
        assertEquals(await slots(t), { "08:00": 100, "09:00": 150, "10:00": 50, "13:00": 120, "14:00": 120 });
        await assertNoDrift(t);
      });

      await test.step("a change that does not fit fails its COMMIT, naming the fullest slot, and changes nothing", async () => {
        const id = await reservationIn(t, owner, hours(9, 10), 200);
        const before = await slots(t);
        const refused = await t.sql`UPDATE reservations SET status = 'confirmed', confirmed_at = now() WHERE id = ${id}`
          .catch((error) => error);
        assert(refused instanceof postgres.PostgresError, String(refused));
        assertEquals([refused.code, refused.constraint_name], ["23514", "slot_usage_within_capacity"]);
        assertEquals(JSON.parse(refused.detail!), {
          slot_start: `${day}T09:00:00+00:00`,
          confirmed: 150,
          headcount: 200,
        });
        const grown = await t.sql`
          UPDATE reservations SET headcount = 301 WHERE status = 'confirmed' AND start_at = ${at(8)}`
          .catch((error) => error);
        assert(grown instanceof postgres.PostgresError, String(grown));
        assertEquals(await slots(t), before);
        assertEquals((await t.sql`SELECT status FROM reservations WHERE id = ${id}`)[0].status, "pending");
        await assertNoDrift(t);
      });

      await test.step("a delete releases a confirmed one's slots and a pending one's place", async () => {
        await t.sql`DELETE FROM reservations WHERE status = 'confirmed' AND start_at = ${at(13)}`;
        await t.sql`DELETE FROM reservations WHERE status = 'pending'`;
        assertEquals(await slots(t), { "08:00": 100, "09:00": 150, "10:00": 50 });
        assertEquals(await pendingOf(t, owner), 0);
        await assertNoDrift(t);
      });

      await test.step("a change rolled back to a savepoint leaves every counter as it was", async () => {
        const id = await reservationIn(t, owner, hours(16, 17), 10);
        await t.sql.begin(async (tx) => {
          await tx.savepoint(async (sp) => {
            await sp`UPDATE reservations SET status = 'confirmed', confirmed_at = now() WHERE id = ${id}`;
            await sp`SELECT no_such_function()`;
          }).catch(() => {});
          await tx`UPDATE reservations SET headcount = 11 WHERE id = ${id}`;
        });
        assertEquals((await slots(t))["16:00"], undefined);
        assertEquals(await pendingOf(t, owner), 1);
        await assertNoDrift(t);
      });

      await test.step("deleting a user releases every slot their confirmed reservations held", async () => {
        const leaving = await userIn(t, "leaving");
        await reservationIn(t, leaving, hours(8, 9), 30, "confirmed");
        await reservationIn(t, leaving, hours(10, 12), 40, "confirmed");
        await reservationIn(t, leaving, hours(20, 21), 40);
        assertEquals(await slots(t), { "08:00": 130, "09:00": 150, "10:00": 90, "11:00": 40 });
        await t.sql`DELETE FROM users WHERE id = ${leaving}`;
        assertEquals(await slots(t), { "08:00": 100, "09:00": 150, "10:00": 50 });
        await assertNoDrift(t);
      });

      await test.step("a bulk load of hundreds of windows in one statement keeps every counter exact", async () => {
        await t.sql`
          INSERT INTO reservations (user_id, start_at, end_at, headcount, status, confirmed_at)
          SELECT ${owner}, s, s + interval '1 hour', 1, CASE WHEN g % 2 = 0 THEN 'confirmed' ELSE 'pending' END,
            CASE WHEN g % 2 = 0 THEN now() END
          FROM generate_series(1, 300) g, LATERAL (SELECT '2027-07-01T00:00Z'::timestamptz + g * interval '5 hours') w(s)`;
        await assertNoDrift(t);
        await t.sql`DELETE FROM reservations WHERE start_at >= '2027-07-01T00:00Z'`;
        await assertNoDrift(t);
      });

      await test.step("without stored limits the contract's defaults apply", async () => {
        await t.sql`DELETE FROM capacity_settings`;
        const [limits] = await t.sql`SELECT capacity, slot_minutes FROM capacity_limits()`;
        assertEquals([limits.capacity, limits.slot_minutes], [50_000, 60]);
        await reservationIn(t, owner, hours(9, 10), 49_000, "confirmed");
        assertEquals((await slots(t))["09:00"], 49_150);
        await assertNoDrift(t);
      });

      await test.step("the slots cannot be cut anew under confirmed examinees", async () => {
        await t.sql`SELECT store_capacity_limits(50000, 60)`;
        const refused = await t.sql`SELECT store_capacity_limits(50000, 30)`.catch((error) => error);
        assert(refused instanceof postgres.PostgresError, String(refused));
        assertEquals(refused.code, "22023");
        assert(refused.message.includes("slots of 60 minutes"), refused.message);
        const [limits] = await t.sql`SELECT slot_minutes FROM capacity_limits()`;
        assertEquals(limits.slot_minutes, 60);
      });
    });
  });
}

// Two sessions at once: PGlite has one.
Deno.test("counters – transactions changing several reservations in opposite orders never deadlock", async () => {
  await withContext({}, async (t) => {
    // One owner each: a pending count both transactions change would serialise their commits.
    const [ownerA, ownerB] = [await userIn(t, "owner-a"), await userIn(t, "owner-b")];
    // A pause after each claim at COMMIT, so that two commits interleave their claims instead of running one after
    // the other (a deferred trigger named after the counters' own fires after theirs, for the same row).
    await t.sql`CREATE FUNCTION pause() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN PERFORM pg_sleep(0.02); RETURN NULL; END $$`;
    await t.sql`CREATE CONSTRAINT TRIGGER zz_pause AFTER UPDATE ON reservations DEFERRABLE INITIALLY DEFERRED
      FOR EACH ROW EXECUTE FUNCTION pause()`;
    const [first, second] = [await t.sql.reserve(), await t.sql.reserve()];
    try {
      for (let round = 0; round < 5; round++) {
        const early = hours(8, 10);
        const late = hours(12, 14);
        const [a1, a2, b1, b2] = [
          await reservationIn(t, ownerA, late, 1),
          await reservationIn(t, ownerA, early, 1),
          await reservationIn(t, ownerB, early, 1),
          await reservationIn(t, ownerB, late, 1),
        ];
        const confirmBoth = async (session: postgres.ReservedSql, ids: number[]) => {
          await session`BEGIN`;
          for (const id of ids) {
            await session`UPDATE reservations SET status = 'confirmed', confirmed_at = now() WHERE id = ${id}`;
          }
        };
        // Each transaction changes one window's reservation, then the other's: the late window first in one, the
        // early one first in the other. Both then commit at once, when the counters are claimed.
        await confirmBoth(first, [a1, a2]);
        await confirmBoth(second, [b1, b2]);
        const outcomes = await Promise.allSettled([first`COMMIT`, second`COMMIT`]);
        for (const outcome of outcomes) {
          assertEquals(outcome.status, "fulfilled", outcome.status === "rejected" ? String(outcome.reason) : "");
        }
      }
      assertEquals(await slots(t), { "08:00": 10, "09:00": 10, "12:00": 10, "13:00": 10 });
      await assertNoDrift(t);
    } finally {
      first.release();
      second.release();
    }
  });
});
