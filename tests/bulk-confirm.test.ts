// Bulk confirmation (API v1.2): up to 100 ids in one request, each judged as its own confirmation would be, in the
// order given; never an overbooked slot, never a deadlock, whatever the order of the ids or of other confirmations.
import { assert, assertEquals } from "./support/assert.ts";
import { backends, type Reply, type TestContext, withContext } from "./support/app.ts";
import { assertProblem } from "./support/problems.ts";
import { book, booking, confirm, freshAccess } from "./support/reservations.ts";
import { capacityDrift, pendingDrift } from "../src/reservations/capacity.ts";
import { api } from "../harness/paths.ts";
import { inParallel } from "./support/parallel.ts";

const confirmMany = (t: TestContext, token: string, ids: unknown, headers: Record<string, string> = {}) =>
  t.request("POST", api("/reservations/confirm/"), { token, body: { ids }, headers });

/** Each result as `id status [code]`, in order. */
const outcomes = (reply: Reply) =>
  reply.body.results.map((r: { id: number; status: number; code?: string }) =>
    [r.id, r.status, r.code].filter((part) => part !== undefined).join(" ")
  );

for (const backend of backends) {
  Deno.test(`bulk confirm – each id judged as its own confirmation, in order (${backend})`, async (test) => {
    await withContext({ backend }, async (t) => {
      const admin = await t.admin("root");
      const carol = await t.customer("carol");

      await test.step("one result per id in the order given, with what a single confirm would answer", async () => {
        const fits = await book(t, carol.access, booking("2027-05-01T10:00:00Z", 2, 100));
        const confirmed = await book(t, carol.access, booking("2027-05-01T12:00:00Z", 1, 100));
        assertEquals((await confirm(t, admin.access, confirmed.id)).status, 200);
        const rejected = await book(t, carol.access, booking("2027-05-01T13:00:00Z", 1, 100));
        await t.request("POST", api(`/reservations/${rejected.id}/reject/`), {
          token: admin.access,
          body: { reason: "no" },
        });
        const started = await book(t, admin.access, booking("2027-04-01T06:00:00Z", 1, 100));
        t.clock.set("2027-04-01T06:30:00Z");
        const reply = await confirmMany(t, await freshAccess(t, admin), [
          rejected.id,
          fits.id,
          2_000_000_000,
          started.id,
          confirmed.id,
        ]);
        t.clock.set("2027-04-01T00:00:00Z");
        assertEquals(reply.status, 200, JSON.stringify(reply.body));
        assertEquals(outcomes(reply), [
          `${rejected.id} 409 RESERVATION_NOT_PENDING`,
          `${fits.id} 200`,
          "2000000000 404 NOT_FOUND",
          `${started.id} 400 BOOKING_DEADLINE_PASSED`,
          `${confirmed.id} 409 RESERVATION_NOT_PENDING`,
        ]);
        const ok = reply.body.results[1].reservation;
        assertEquals([ok.id, ok.status, ok.confirmed_at], [fits.id, "confirmed", "2027-04-01T06:30:00.000Z"]);
        const single = await t.request("GET", api(`/reservations/${fits.id}/`), { token: admin.access });
        assertEquals(single.body, ok);
        assert(typeof reply.body.results[0].detail === "string");
      });

      await test.step("a slot that fills refuses the later ids only, naming the slot", async () => {
        const window = booking("2027-05-02T10:00:00Z", 2, 20_000);
        const [a, b, c] = [
          await book(t, carol.access, window),
          await book(t, carol.access, window),
          await book(t, carol.access, window),
        ];
        const reply = await confirmMany(t, admin.access, [c.id, a.id, b.id]);
        assertEquals(outcomes(reply), [`${c.id} 200`, `${a.id} 200`, `${b.id} 409 CAPACITY_EXCEEDED`]);
        assert(reply.body.results[2].detail.includes("2027-05-02T10:00:00.000Z"), reply.body.results[2].detail);
        const statuses = await t
          .sql`SELECT id, status FROM reservations WHERE id IN (${a.id}, ${b.id}, ${c.id}) ORDER BY id`;
        assertEquals(statuses.map((r) => r.status), ["confirmed", "pending", "confirmed"]);
        assertEquals(await capacityDrift(t.sql, t.config), []);
        assertEquals(await pendingDrift(t.sql), []);
      });

      await test.step("each confirmation is a `confirmed` event of its own, by the admin", async () => {
        const [a, b] = [
          await book(t, carol.access, booking("2027-05-03T10:00:00Z", 1, 10)),
          await book(t, carol.access, booking("2027-05-03T11:00:00Z", 1, 10)),
        ];
        const reply = await confirmMany(t, admin.access, [b.id, a.id]);
        for (const { id } of [a, b]) {
          const history = await t.request("GET", api(`/reservations/${id}/history/`), { token: carol.access });
          const last = history.body.results.at(-1);
          assertEquals([last.action, last.actor_id, last.request_id], [
            "confirmed",
            admin.id,
            reply.headers.get("x-request-id"),
          ]);
        }
      });

      await test.step("1 to 100 distinct ids, else 400; a customer gets 403 and nothing is confirmed", async () => {
        const { id } = await book(t, carol.access, booking("2027-05-04T10:00:00Z", 1, 10));
        for (const ids of [[], [id, id], Array.from({ length: 101 }, (_, i) => i + 1), ["x"], [0], id]) {
          assertProblem(await confirmMany(t, admin.access, ids), 400, "VALIDATION_ERROR");
        }
        assertProblem(await confirmMany(t, carol.access, [id]), 403, "FORBIDDEN");
        const [row] = await t.sql`SELECT status FROM reservations WHERE id = ${id}`;
        assertEquals(row.status, "pending");
        const hundred = Array.from({ length: 99 }, (_, i) => 1_000_000 + i);
        assertEquals((await confirmMany(t, admin.access, [id, ...hundred])).body.results.length, 100);
      });

      await test.step("an Idempotency-Key covers the whole request: a retry replays every result", async () => {
        const [a, b] = [
          await book(t, carol.access, booking("2027-05-05T10:00:00Z", 1, 10)),
          await book(t, carol.access, booking("2027-05-05T11:00:00Z", 1, 10)),
        ];
        const headers = { "Idempotency-Key": `bulk-${a.id}` };
        const first = await confirmMany(t, admin.access, [a.id, b.id], headers);
        const again = await confirmMany(t, admin.access, [a.id, b.id], headers);
        assertEquals([first.status, again.status, again.headers.get("idempotent-replayed")], [200, 200, "true"]);
        assertEquals(outcomes(again), [`${a.id} 200`, `${b.id} 200`]);
        assertEquals(again.body, first.body);
        assertProblem(await confirmMany(t, admin.access, [b.id], headers), 422, "IDEMPOTENCY_KEY_REUSED");
      });
    });
  });
}

// Real PostgreSQL with a pool of 20: the requests run as truly concurrent transactions.
Deno.test("bulk confirm – concurrent bulk and single confirmations in any order never overbook nor deadlock", async () => {
  await withContext({}, async (t) => {
    const admins = await Promise.all(Array.from({ length: 6 }, () => t.admin()));
    const carol = await t.customer("carol");
    const day = "2027-04-20";
    // Overlapping windows of 1 to 4 hours from 08:00 to 13:00, 12,000 examinees each: far more than fits.
    const reservations = [];
    for (let i = 0; i < 90; i++) {
      const start = `${day}T${String(8 + (i % 6)).padStart(2, "0")}:00:00Z`;
      reservations.push(await book(t, carol.access, booking(start, 1 + (i % 4), 12_000)));
    }
    const ids = reservations.map((r) => r.id);
    const rotated = (by: number) => [...ids.slice(by), ...ids.slice(0, by)];
    const tasks: (() => Promise<Reply>)[] = [
      ...[0, 30, 60].map((by, i) => () => confirmMany(t, admins[i].access, rotated(by).slice(0, 60))),
      ...[15, 45, 75].map((by, i) => () => confirmMany(t, admins[i + 3].access, rotated(by).reverse().slice(0, 60))),
      ...ids.map((id, i) => () => confirm(t, admins[i % admins.length].access, id)),
    ];
    const replies = await inParallel(12, tasks);

    const [bulk, single] = [replies.slice(0, 6), replies.slice(6)];
    for (const reply of bulk) assertEquals(reply.status, 200, JSON.stringify(reply.body));
    for (const reply of single) assert(reply.status === 200 || reply.status === 409, JSON.stringify(reply.body));
    const bulkOutcomes = new Set(
      bulk.flatMap((reply) => outcomes(reply).map((o: string) => o.split(" ").slice(1).join(" "))),
    );
    assert(bulkOutcomes.has("200") && bulkOutcomes.has("409 CAPACITY_EXCEEDED"), [...bulkOutcomes].join(", "));
    const answered200 = new Set<number>();
    for (const reply of replies) {
      if (reply.body.results) {
        for (const r of reply.body.results) if (r.status === 200) answered200.add(r.id);
      } else if (reply.status === 200) answered200.add(reply.body.id);
    }
    const confirmed = await t.sql<{ id: number }[]>`SELECT id FROM reservations WHERE status = 'confirmed' ORDER BY id`;
    assertEquals(confirmed.map((r) => r.id), [...answered200].sort((a, b) => a - b));
    const over = await t.sql`
      SELECT slot FROM reservations, generate_series(start_at, end_at - interval '1 hour', interval '1 hour') slot
      WHERE status = 'confirmed' GROUP BY slot HAVING sum(headcount) > ${t.config.MAX_CONCURRENT_EXAMINEES}`;
    assertEquals([...over], []);
    assertEquals(await capacityDrift(t.sql, t.config), []);
    assertEquals(await pendingDrift(t.sql), []);
  });
});
