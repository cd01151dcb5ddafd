// The CSV export (API v1.2): every reservation the list would show, in its ordering, RFC 4180, safe to open in a
// spreadsheet, and streamed: the server's memory stays flat however many rows match.
import { assert, assertEquals } from "./support/assert.ts";
import { backends, withContext } from "./support/app.ts";
import { assertProblem } from "./support/problems.ts";
import { book, booking } from "./support/reservations.ts";
import { freshDatabase } from "../harness/servers.ts";
import postgres from "postgres";
import { call, json, jwtSecret, startServer, stopServer } from "../harness/server-process.ts";
import { delay } from "../harness/process.ts";
import { api } from "../harness/paths.ts";

const header =
  "id,user_id,username,email,start_at,end_at,headcount,status,created_at,confirmed_at,rejected_at,reject_reason";

/** RFC 4180 records (CRLF between them, quoted fields may hold commas, quotes and line breaks) as arrays of cells. */
function parseCsv(text: string): string[][] {
  const records: string[][] = [];
  let record: string[] = [];
  let cell = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const char = text[i];
    if (quoted) {
      if (char === '"' && text[i + 1] === '"') cell += text[++i];
      else if (char === '"') quoted = false;
      else cell += char;
    } else if (char === '"') quoted = true;
    else if (char === ",") record.push(cell), cell = "";
    else if (char === "\r" && text[i + 1] === "\n") {
      record.push(cell), records.push(record), record = [], cell = "", i++;
    } else cell += char;
  }
  assertEquals([record, cell], [[], ""], "the last record ends with CRLF");
  return records;
}

for (const backend of backends) {
  Deno.test(`export – CSV of the reservations the caller may see (${backend})`, async (test) => {
    await withContext({ backend }, async (t) => {
      const admin = await t.admin("root");
      const carol = await t.customer("carol");
      const dave = await t.customer("dave");
      const exportAs = (token: string, query = "") => t.request("GET", api(`/reservations/export/${query}`), { token });
      const first = await book(t, carol.access, booking("2027-05-02T10:00:00Z", 2, 100));
      const second = await book(t, carol.access, booking("2027-05-01T10:00:00Z", 1, 50));
      const daves = await book(t, dave.access, booking("2027-05-03T10:00:00Z", 1, 10));

      await test.step("text/csv: a header row, then one row per reservation, as the API shows it", async () => {
        const reply = await exportAs(carol.access);
        assertEquals(reply.status, 200);
        assertEquals(reply.headers.get("content-type"), "text/csv; charset=utf-8");
        const [head, ...rows] = parseCsv(reply.body);
        assertEquals(head.join(","), header);
        assertEquals(rows, [
          [
            String(second.id),
            String(carol.id),
            "carol",
            carol.email,
            second.start_at,
            second.end_at,
            "50",
            "pending",
            second.created_at,
            "",
            "",
            "",
          ],
          [
            String(first.id),
            String(carol.id),
            "carol",
            carol.email,
            first.start_at,
            first.end_at,
            "100",
            "pending",
            first.created_at,
            "",
            "",
            "",
          ],
        ]);
      });

      await test.step("a customer gets only their own; an admin everyone's, with the list's filters", async () => {
        const ids = (text: string) => parseCsv(text).slice(1).map((row) => Number(row[0]));
        assertEquals(ids((await exportAs(carol.access, `?user_id=${dave.id}`)).body), [second.id, first.id]);
        assertEquals(ids((await exportAs(admin.access)).body), [daves.id, second.id, first.id]);
        assertEquals(ids((await exportAs(admin.access, `?user_id=${dave.id}`)).body), [daves.id]);
        assertEquals(ids((await exportAs(admin.access, "?ordering=start_at")).body), [second.id, first.id, daves.id]);
        assertEquals(ids((await exportAs(admin.access, "?from=2027-05-02T00:00:00Z")).body), [daves.id, first.id]);
        assertEquals(ids((await exportAs(admin.access, "?status=confirmed")).body), []);
        assertProblem(await exportAs(admin.access, "?ordering=id"), 400, "VALIDATION_ERROR");
        assertProblem(await t.request("GET", api("/reservations/export/")), 401, "UNAUTHENTICATED");
      });

      await test.step("quoting per RFC 4180, and no cell a spreadsheet would run as a formula", async () => {
        const reasons = ['=HYPERLINK("http://evil.example","x")', "+1+1", "-2", "@SUM(A1)", "\tTab", 'a, "b"\r\nc'];
        const ids = [];
        for (const [i, reason] of reasons.entries()) {
          const { id } = await book(t, carol.access, booking(`2027-05-10T${String(i).padStart(2, "0")}:00:00Z`, 1, 1));
          const rejected = await t.request("POST", api(`/reservations/${id}/reject/`), {
            token: admin.access,
            body: { reason },
          });
          assertEquals(rejected.status, 200);
          ids.push(id);
        }
        const reply = await exportAs(carol.access, "?status=rejected&ordering=start_at");
        assert(reply.body.includes('"a, ""b""\r\nc"'), reply.body);
        const cells = parseCsv(reply.body).slice(1).map((row) => row[11]);
        assertEquals(cells, ["'" + reasons[0], "'+1+1", "'-2", "'@SUM(A1)", "'\tTab", 'a, "b"\r\nc']);
      });
    });
  });
}

Deno.test("export – 100,000 reservations: read a batch at a time as the client takes them, so memory stays flat", async () => {
  const databaseUrl = await freshDatabase();
  const admin = { email: "admin@example.test", password: "admin password" };
  const server = await startServer({
    DATABASE_URL: databaseUrl,
    JWT_SECRET: jwtSecret,
    ADMIN_EMAIL: admin.email,
    ADMIN_PASSWORD: admin.password,
  });
  const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} });
  try {
    await sql`
      INSERT INTO reservations (user_id, start_at, end_at, headcount, status, rejected_at, reject_reason)
      SELECT u.id, '2030-01-01T10:00Z', '2030-01-01T11:00Z', 1, 'rejected', now(), ${"r".repeat(500)}
      FROM users u, generate_series(1, 100000)`;
    const { body: tokens } = await call(server, api("/users/login/"), json(admin));
    const rss = () =>
      Number(/VmRSS:\s+(\d+)/.exec(Deno.readTextFileSync(`/proc/${server.child.pid}/status`))![1]) * 1024;
    const before = rss();
    const response = await fetch(`${server.url}${api("/reservations/export/")}`, {
      headers: { Authorization: `Bearer ${tokens.access}` },
    });
    assertEquals(response.status, 200);
    const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    const rowsRead = () => text.split("\r\n").length - 2;
    while (rowsRead() < 10_000) text += (await reader.read()).value;
    const early = rss() - before;

    // The client stops reading for a while: a server that fetched ahead would be holding the rest by now.
    await delay(1000);
    const lastId = Number(text.split("\r\n").at(-2)!.split(",")[0]);
    const [{ count }] = await sql`WITH gone AS (DELETE FROM reservations WHERE id < ${lastId} RETURNING 1)
      SELECT count(*)::int AS count FROM gone`;
    for (let chunk = await reader.read(); !chunk.done; chunk = await reader.read()) text += chunk.value;

    // Ordered newest first: the rows read before the pause, then what the server had already fetched, then nothing.
    const total = rowsRead();
    assert(count > 80_000, `${count} rows deleted`);
    assert(total < 30_000, `${total} rows exported: the server read ${total - 10_000} ahead of the client`);
    assert(early < 150_000_000, `the server grew by ${(early / 1e6).toFixed(1)} MB before sending a tenth`);
  } finally {
    await sql.end();
    await stopServer(server);
  }
});
