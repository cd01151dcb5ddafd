// The admin's queue (API v1.2): rejections with a reason, the list's ordering, and booking for a customer.
import { assert, assertEquals } from "./support/assert.ts";
import { backends, withContext } from "./support/app.ts";
import { assertProblem } from "./support/problems.ts";
import { book, booking, confirm, confirmedOn } from "./support/reservations.ts";
import { capacityDrift, pendingDrift } from "../src/reservations/capacity.ts";
import { api } from "../harness/paths.ts";

// The test clock starts at 2027-04-01T00:00Z.
const reason = "The exam centre is closed that day";

for (const backend of backends) {
  Deno.test(`admin queue – rejections (${backend})`, async (test) => {
    await withContext({ backend, env: { MAX_PENDING_PER_USER: "2" } }, async (t) => {
      const admin = await t.admin("root");
      const carol = await t.customer("carol");
      const reject = (id: number, body: unknown = { reason }, token = admin.access, headers = {}) =>
        t.request("POST", api(`/reservations/${id}/reject/`), { token, body, headers });

      await test.step("an admin rejects a pending reservation with a reason its owner reads", async () => {
        const { id } = await book(t, carol.access, booking("2027-05-01T10:00:00Z", 2, 500));
        t.clock.advance(60);
        const rejected = await reject(id);
        assertEquals(rejected.status, 200, JSON.stringify(rejected.body));
        assertEquals(rejected.body.status, "rejected");
        assertEquals(rejected.body.rejected_at, "2027-04-01T00:01:00.000Z");
        assertEquals(rejected.body.reject_reason, reason);
        assertEquals(rejected.body.confirmed_at, null);
        const seen = await t.request("GET", api(`/reservations/${id}/`), { token: carol.access });
        assertEquals([seen.body.status, seen.body.reject_reason, seen.headers.get("etag")], [
          "rejected",
          reason,
          rejected.headers.get("etag"),
        ]);
      });

      await test.step("a rejected reservation holds no capacity and no place under the pending cap", async () => {
        const erin = await t.customer("erin");
        const bookAt = (hour: number) =>
          t.request("POST", api("/reservations/"), {
            token: erin.access,
            body: booking(`2027-05-02T${hour}:00:00Z`, 1, 100),
          });
        const [first] = [(await bookAt(10)).body, await bookAt(11)];
        assertProblem(await bookAt(12), 409, "TOO_MANY_PENDING");
        assertEquals((await reject(first.id)).status, 200);
        assertEquals((await bookAt(12)).status, 201);
        const day = await confirmedOn(t, erin.access, "2027-05-02");
        assert(Object.values(day).every((confirmed) => confirmed === 0), JSON.stringify(day));
        assertEquals(await capacityDrift(t.sql, t.config), []);
        assertEquals(await pendingDrift(t.sql), []);
      });

      await test.step("a rejected one cannot be changed or confirmed by anyone; its owner may delete it", async () => {
        const { id } = await book(t, admin.access, booking("2027-05-03T10:00:00Z", 1, 10));
        const mine = await book(t, carol.access, booking("2027-05-03T11:00:00Z", 1, 10));
        for (const target of [id, mine.id]) assertEquals((await reject(target)).status, 200);
        for (const token of [admin.access, carol.access]) {
          const patched = await t.request("PATCH", api(`/reservations/${mine.id}/`), { token, body: { headcount: 5 } });
          assertProblem(patched, 409, "RESERVATION_NOT_PENDING");
        }
        assertProblem(await confirm(t, admin.access, mine.id), 409, "RESERVATION_NOT_PENDING");
        assertProblem(await reject(mine.id), 409, "RESERVATION_NOT_PENDING");
        const deleted = await t.request("DELETE", api(`/reservations/${mine.id}/`), { token: carol.access });
        assertEquals(deleted.status, 204);
        assertEquals((await t.request("DELETE", api(`/reservations/${id}/`), { token: admin.access })).status, 204);
      });

      await test.step("only a pending one is rejected; a customer gets 403; a reason is 1 to 500 characters", async () => {
        const { id } = await book(t, carol.access, booking("2027-05-04T10:00:00Z", 1, 10));
        assertProblem(await reject(id, { reason }, carol.access), 403, "FORBIDDEN");
        for (const body of [{}, { reason: "" }, { reason: "x".repeat(501) }]) {
          assertProblem(await reject(id, body), 400, "VALIDATION_ERROR");
        }
        assertEquals((await reject(id, { reason: "x".repeat(500) })).status, 200);
        assertProblem(await reject(2_000_000_000), 404, "NOT_FOUND");
        const confirmed = await book(t, admin.access, booking("2027-05-04T11:00:00Z", 1, 10));
        assertEquals((await confirm(t, admin.access, confirmed.id)).status, 200);
        assertProblem(await reject(confirmed.id), 409, "RESERVATION_NOT_PENDING");
      });

      await test.step("the history records `rejected` with the reason; the audit and the list filter on it", async () => {
        const { id } = await book(t, carol.access, booking("2027-05-05T10:00:00Z", 1, 10));
        const rejected = await reject(id);
        const history = await t.request("GET", api(`/reservations/${id}/history/`), { token: carol.access });
        const last = history.body.results.at(-1);
        assertEquals([last.action, last.actor_id, last.changes], ["rejected", admin.id, {
          status: ["pending", "rejected"],
          reject_reason: [null, reason],
        }]);
        assertEquals(last.request_id, rejected.headers.get("x-request-id"));
        const audit = await t.request("GET", api(`/audit/?action=rejected&reservation_id=${id}`), {
          token: admin.access,
        });
        assertEquals(audit.body.count, 1);
        const listed = await t.request("GET", api("/reservations/?status=rejected"), { token: carol.access });
        assert(listed.body.results.length > 0);
        assert(listed.body.results.every((r: { status: string }) => r.status === "rejected"));
      });

      await test.step("a reject takes an Idempotency-Key and If-Match like a confirm", async () => {
        const { id } = await book(t, carol.access, booking("2027-05-06T10:00:00Z", 1, 10));
        const current = (await t.request("GET", api(`/reservations/${id}/`), { token: admin.access })).headers;
        assertProblem(
          await reject(id, { reason }, admin.access, { "If-Match": '"stale"' }),
          412,
          "PRECONDITION_FAILED",
        );
        const headers = { "If-Match": current.get("etag")!, "Idempotency-Key": `reject-${id}` };
        const first = await reject(id, { reason }, admin.access, headers);
        const again = await reject(id, { reason }, admin.access, headers);
        assertEquals([first.status, again.status, again.headers.get("idempotent-replayed")], [200, 200, "true"]);
        assertEquals(again.body, first.body);
      });
    });
  });

  Deno.test(`admin queue – ordering and booking for a customer (${backend})`, async (test) => {
    await withContext({ backend, env: { MAX_PENDING_PER_USER: "2" } }, async (t) => {
      const admin = await t.admin("root");
      const carol = await t.customer("carol");
      const ids: number[] = [];
      // Created a minute apart, starting in another order than they were created; two share a start.
      for (const start of ["2027-05-10T12:00:00Z", "2027-05-10T09:00:00Z", "2027-05-10T12:00:00Z"]) {
        t.clock.advance(60);
        ids.push((await book(t, admin.access, booking(start, 1, 10))).id);
      }
      const [a, b, c] = ids;
      const listed = async (ordering?: string) => {
        const query = ordering ? `?ordering=${ordering}` : "";
        const reply = await t.request("GET", api(`/reservations/${query}`), { token: admin.access });
        assertEquals(reply.status, 200, JSON.stringify(reply.body));
        return reply.body.results.map((r: { id: number }) => r.id);
      };

      await test.step("ordering: created_at oldest first, -created_at (the default) newest first", async () => {
        assertEquals(await listed("created_at"), [a, b, c]);
        assertEquals(await listed("-created_at"), [c, b, a]);
        assertEquals(await listed(), [c, b, a]);
      });

      await test.step("ordering: start_at and -start_at, ties by id in the same direction", async () => {
        assertEquals(await listed("start_at"), [b, a, c]);
        assertEquals(await listed("-start_at"), [c, a, b]);
      });

      await test.step("any other ordering is 400", async () => {
        for (const ordering of ["id", "created", "-created_at,id", "+start_at"]) {
          const reply = await t.request("GET", api(`/reservations/?ordering=${ordering}`), { token: admin.access });
          assertProblem(reply, 400, "VALIDATION_ERROR");
        }
      });

      await test.step("an admin books for a customer: theirs, within the lead time, the admin the actor", async () => {
        const body = { ...booking("2027-04-02T10:00:00Z", 1, 10), user_id: carol.id };
        const created = await t.request("POST", api("/reservations/"), { token: admin.access, body });
        assertEquals(created.status, 201, JSON.stringify(created.body));
        assertEquals(created.body.user_id, carol.id);
        const mine = await t.request("GET", api(`/reservations/${created.body.id}/`), { token: carol.access });
        assertEquals(mine.status, 200);
        const history = await t.request("GET", api(`/reservations/${created.body.id}/history/`), {
          token: carol.access,
        });
        assertEquals(history.body.results[0].actor_id, admin.id);
      });

      await test.step("the customer's pending cap applies to an admin's booking for them", async () => {
        await book(t, carol.access, booking("2027-05-11T10:00:00Z", 1, 10));
        const body = { ...booking("2027-05-11T11:00:00Z", 1, 10), user_id: carol.id };
        assertProblem(
          await t.request("POST", api("/reservations/"), { token: admin.access, body }),
          409,
          "TOO_MANY_PENDING",
        );
        assertEquals(await pendingDrift(t.sql), []);
      });

      await test.step("a user_id of no user is 404; a customer's user_id stays ignored", async () => {
        const body = { ...booking("2027-05-12T10:00:00Z", 1, 10), user_id: 2_000_000_000 };
        assertProblem(await t.request("POST", api("/reservations/"), { token: admin.access, body }), 404, "NOT_FOUND");
        const dave = await t.customer("dave");
        const own = await book(t, dave.access, { ...booking("2027-05-12T10:00:00Z", 1, 10), user_id: carol.id });
        assertEquals(own.user_id, dave.id);
      });
    });
  });
}
