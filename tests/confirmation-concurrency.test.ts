import { assert, assertEquals } from "./support/assert.ts";
import { type Backend, type Reply, type TestContext, withContext } from "./support/app.ts";
import { book, bookConfirmed, booking, confirm } from "./support/reservations.ts";
import { capacityDrift } from "../src/reservations/capacity.ts";
import { api } from "../harness/paths.ts";
import { inParallel } from "./support/parallel.ts";

// Real PostgreSQL with a pool of 20: the requests below run as truly concurrent transactions, each spec directly and
// through PgBouncer in transaction mode.

/**
 * Registers the spec on PostgreSQL directly and through the pooler. The specs sign in hundreds of users from one
 * address, twice over, on one Redis: the address's login limit is not what they are about.
 */
function onPostgres(name: string, body: (t: TestContext) => Promise<void>) {
  for (const backend of ["postgres+redis", "pooled"] satisfies Backend[]) {
    Deno.test(`${name} (${backend})`, () => withContext({ backend, env: { LOGIN_ADDRESS_LIMIT: "100000" } }, body));
  }
}

/** A small seeded generator, so a failing run can be replayed. */
function random(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let x = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x;
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

function shuffle<T>(items: T[], next: () => number): T[] {
  const copy = [...items];
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    [copy[i], copy[j]] = [copy[j], copy[i]];
  }
  return copy;
}

const tally = (replies: Reply[]) => {
  const counts: Record<string, number> = {};
  for (const reply of replies) {
    const key = reply.status < 300 ? String(reply.status) : `${reply.status} ${reply.body.code}`;
    counts[key] = (counts[key] ?? 0) + 1;
  }
  return counts;
};

async function admins(t: TestContext, count: number) {
  return await Promise.all(Array.from({ length: count }, () => t.admin().then((admin) => admin.access)));
}

async function customers(t: TestContext, count: number) {
  return await Promise.all(Array.from({ length: count }, () => t.customer()));
}

onPostgres("50 admins confirming 200 requests of 1,000 for one slot at once confirm exactly 50 of them", async (t) => {
  const tokens = await admins(t, 50);
  const bookers = await customers(t, 4);
  const requests = await Promise.all(
    Array.from({ length: 200 }, (_, i) => book(t, bookers[i % 4].access, booking("2027-04-15T14:00:00Z", 1, 1_000))),
  );
  const ids = shuffle(requests.map((r) => r.id), random(1));
  const replies = await inParallel(50, ids.map((id, i) => () => confirm(t, tokens[i % 50], id)));

  assertEquals(tally(replies), { "200": 50, "409 CAPACITY_EXCEEDED": 150 });
  const [{ sum }] = await t.sql`
    SELECT coalesce(sum(headcount), 0)::int AS sum FROM reservations WHERE status = 'confirmed'`;
  assertEquals(sum, 50_000);
  const [slot] = await t.sql`SELECT confirmed FROM slot_usage WHERE slot_start = '2027-04-15T14:00:00Z'`;
  assertEquals(slot.confirmed, 50_000);
  assertEquals(await capacityDrift(t.sql, t.config), []);
});

onPostgres("overlapping windows confirmed in opposite orders at once never deadlock nor overbook", async (t) => {
  const tokens = await admins(t, 10);
  const [booker] = await customers(t, 1);
  for (const day of ["2027-04-16", "2027-04-17", "2027-04-18"]) {
    // Windows of 1 to 6 hours starting from 08:00 to 13:00, overlapping in many ways; later slots are oversubscribed.
    const requests = await Promise.all(
      Array.from(
        { length: 60 },
        (_, i) =>
          book(
            t,
            booker.access,
            booking(`${day}T${String(8 + (i % 6)).padStart(2, "0")}:00:00Z`, 1 + (i % 6), 4_000),
          ),
      ),
    );
    const byStart = [...requests].sort((a, b) => a.start_at.localeCompare(b.start_at) || a.id - b.id);
    const ascending = byStart.map((r) => () => confirm(t, tokens[r.id % 10], r.id));
    const descending = [...byStart].reverse().map((r) => () => confirm(t, tokens[r.id % 10], r.id));
    const replies = (await Promise.all([inParallel(25, ascending), inParallel(25, descending)])).flat();

    const counts = tally(replies);
    assertEquals(Object.keys(counts).sort(), ["200", "409 CAPACITY_EXCEEDED", "409 RESERVATION_NOT_PENDING"]);
    assert(counts["200"] > 0);
    assertEquals(await capacityDrift(t.sql, t.config), []);
  }
});

onPostgres(
  "concurrent confirmations, admin moves, deletions and user deletions keep every counter exact",
  async (t) => {
    const next = random(7);
    const tokens = await admins(t, 10);
    const bookers = await customers(t, 8);
    const day = "2027-04-20";
    const windowAt = () => {
      const hours = 1 + Math.floor(next() * 4);
      const start = 6 + Math.floor(next() * 10);
      return booking(`${day}T${String(start).padStart(2, "0")}:00:00Z`, hours, 1_000 + Math.floor(next() * 14_000));
    };
    const reservations = [];
    for (let i = 0; i < 120; i++) reservations.push(await book(t, bookers[i % bookers.length].access, windowAt()));
    const firstHalf = await Promise.all(
      reservations.filter((_, i) => i % 2 === 0).map((r) => confirm(t, tokens[0], r.id)),
    );
    assert(firstHalf.some((reply) => reply.status === 200));
    assertEquals(await capacityDrift(t.sql, t.config), []);

    const admin = (i: number) => tokens[i % tokens.length];
    const operations: (() => Promise<Reply>)[] = [];
    for (const [i, r] of reservations.entries()) {
      operations.push(() => confirm(t, admin(i), r.id));
      operations.push(() =>
        t.request("PATCH", api(`/reservations/${r.id}/`), { token: admin(i + 1), body: windowAt() })
      );
      if (i % 5 === 0) {
        operations.push(() => t.request("DELETE", api(`/reservations/${r.id}/`), { token: admin(i + 2) }));
      }
    }
    for (const doomed of bookers.slice(0, 2)) {
      operations.push(() => t.request("DELETE", api(`/users/${doomed.id}/`), { token: admin(3) }));
    }
    const replies = await inParallel(50, shuffle(operations, next));

    const allowed = new Set([
      "200",
      "204",
      "404 NOT_FOUND",
      "409 CAPACITY_EXCEEDED",
      "409 RESERVATION_NOT_PENDING",
    ]);
    for (const outcome of Object.keys(tally(replies))) assert(allowed.has(outcome), outcome);
    assertEquals(await capacityDrift(t.sql, t.config), []);
    const [{ orphans }] = await t.sql`
    SELECT count(*)::int AS orphans FROM reservations WHERE user_id = ANY(${bookers.slice(0, 2).map((b) => b.id)})`;
    assertEquals(orphans, 0);
  },
);

onPostgres(
  "an admin confirming while another moves the same confirmed capacity never loses a counter update",
  async (t) => {
    const [first, second] = await admins(t, 2);
    const [booker] = await customers(t, 1);
    const moving = await bookConfirmed(t, booker.access, first, booking("2027-04-21T10:00:00Z", 2, 25_000));
    const pending = await Promise.all(
      Array.from({ length: 30 }, () => book(t, booker.access, booking("2027-04-21T11:00:00Z", 1, 1_000))),
    );
    const tasks = [
      ...pending.map((r) => () => confirm(t, second, r.id)),
      ...["12", "09", "11", "10"].map((hour) => () =>
        t.request("PATCH", api(`/reservations/${moving.id}/`), {
          token: first,
          body: { start_at: `2027-04-21T${hour}:00:00Z`, end_at: `2027-04-21T${Number(hour) + 2}:00:00Z` },
        })
      ),
    ];
    const replies = await inParallel(20, shuffle(tasks, random(3)));
    for (const outcome of Object.keys(tally(replies))) {
      assert(["200", "409 CAPACITY_EXCEEDED"].includes(outcome), outcome);
    }
    assertEquals(await capacityDrift(t.sql, t.config), []);
  },
);
