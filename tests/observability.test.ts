import postgres from "postgres";
import { assert, assertEquals, assertMatch } from "./support/assert.ts";
import { attribute, pointValue, type ReceivedSpan, startOtlpReceiver } from "./support/otlp-receiver.ts";
import { describeOnEveryBackend } from "./support/app.ts";
import { call, json, jwtSecret, startServer, stopServer } from "../harness/server-process.ts";
import { freshDatabase } from "../harness/servers.ts";
import { api } from "../harness/paths.ts";
import { traceSql } from "../src/platform/traced-sql.ts";

const dayMs = 24 * 3600_000;

/** A two-hour window at 10:00 UTC, ten days from now: outside the 3-day lead time of the real clock. */
function windowAhead() {
  const start = new Date(Math.floor((Date.now() + 10 * dayMs) / dayMs) * dayMs + 10 * 3600_000);
  return { start_at: start.toISOString(), end_at: new Date(start.getTime() + 2 * 3600_000).toISOString() };
}

/** The spans from `span` up to its trace's root. */
function ancestors(span: ReceivedSpan, spans: ReceivedSpan[]): ReceivedSpan[] {
  const byId = new Map(spans.map((s) => [s.spanId, s]));
  const chain = [];
  for (let parent = byId.get(span.parentSpanId ?? ""); parent; parent = byId.get(parent.parentSpanId ?? "")) {
    chain.push(parent);
  }
  return chain;
}

Deno.test("with OTEL_DENO=true the server exports a trace per request, its logs and its metrics over OTLP", async (t) => {
  const receiver = startOtlpReceiver();
  const admin = { email: "ops@example.test", password: "ops-password-1" };
  const databaseUrl = await freshDatabase();
  const server = await startServer({
    JWT_SECRET: jwtSecret,
    DATABASE_URL: databaseUrl,
    ADMIN_EMAIL: admin.email,
    ADMIN_PASSWORD: admin.password,
    MAX_CONCURRENT_EXAMINEES: "100",
    OTEL_DENO: "true",
    OTEL_SERVICE_NAME: "exam-slots-test",
    OTEL_EXPORTER_OTLP_ENDPOINT: receiver.endpoint,
    OTEL_EXPORTER_OTLP_PROTOCOL: "http/json",
    OTEL_METRIC_EXPORT_INTERVAL: "200",
    OTEL_BSP_SCHEDULE_DELAY: "100",
    OTEL_BLRP_SCHEDULE_DELAY: "100",
  });
  try {
    const { access } = (await call(server, api("/users/login/"), json(admin))).body;
    const auth = { Authorization: `Bearer ${access}` };
    const booked = await call(server, api("/reservations/"), json({ ...windowAhead(), headcount: 80 }, auth));
    assertEquals(booked.status, 201, server.lines.join("\n"));
    const requestId = "confirm-traced-1";
    const confirmed = await call(server, api(`/reservations/${booked.body.id}/confirm/`), {
      method: "POST",
      headers: { ...auth, "X-Request-Id": requestId },
    });
    assertEquals(confirmed.status, 200);
    const confirmSpan = await receiver.waitFor(
      "server span of the confirm",
      () => receiver.spans.find((s) => attribute(s, "app.request.id") === requestId),
    );

    await t.step("the server span is named by the route template and carries http.route", () => {
      assertEquals(confirmSpan.name, "POST /api/v1/reservations/{id}/confirm");
      assertEquals(attribute(confirmSpan, "http.route"), api("/reservations/{id}/confirm"));
      assertEquals(confirmSpan.kind, 2, "SERVER");
    });

    await t.step("its statements and its transaction are database spans beneath it", async () => {
      // The transaction ends before the response, but spans are exported in batches: wait for the last one.
      const transaction = await receiver.waitFor(
        "the confirm's transaction span",
        () =>
          receiver.spans.find((s) =>
            s.parentSpanId === confirmSpan.spanId && attribute(s, "db.operation") === "transaction"
          ),
      );
      const inTrace = receiver.spans.filter((s) => s.traceId === confirmSpan.traceId);
      const statements = inTrace.filter((s) => attribute(s, "db.system") === "postgresql" && s !== transaction);
      assert(statements.length >= 2, `too few statement spans: ${statements.map((s) => s.name)}`);
      for (const statement of statements) {
        assert(ancestors(statement, inTrace).includes(confirmSpan), `${statement.name} is outside the request`);
        assertEquals(statement.name, attribute(statement, "db.operation"));
        assertEquals(statement.kind, 3, "CLIENT");
      }
      const locking = statements.find((s) => /FOR UPDATE/.test(String(attribute(s, "db.statement"))));
      assert(locking, "no statement locks the reservation");
      assertEquals(locking.parentSpanId, transaction.spanId);
      assertMatch(String(attribute(locking, "db.statement")), /\$1/);
    });

    await t.step("no span or log record carries a parameter value, a password or a token", () => {
      const everything = JSON.stringify([receiver.spans, receiver.logs]);
      for (const secret of [admin.email, admin.password, access]) assert(!everything.includes(secret), secret);
    });

    await t.step("the request's log line carries the trace and span of its server span", async () => {
      const line = await receiver.waitFor(
        "log line of the confirm",
        () => receiver.logs.find((l) => l.body?.stringValue?.includes(`"request_id":"${requestId}"`)),
      );
      assertEquals(line.traceId, confirmSpan.traceId);
      assertEquals(line.spanId, confirmSpan.spanId);
    });

    await t.step(
      "outcomes are counted: confirmations, capacity refusals, failed logins, rate-limit refusals",
      async () => {
        const refused = await call(server, api("/reservations/"), json({ ...windowAhead(), headcount: 30 }, auth));
        assertEquals(refused.body.code, "CAPACITY_EXCEEDED");
        const guesses = [];
        for (let i = 0; i < 11; i++) {
          guesses.push((await call(server, api("/users/login/"), json({ ...admin, password: `guess-${i}` }))).status);
        }
        assertEquals(guesses, [...Array(10).fill(401), 429]);
        const expected = {
          "reservations.confirmations": 1,
          "reservations.capacity_refusals": 1,
          "auth.login_failures": 10,
          "http.server.rate_limit_refusals": 1,
        };
        for (const [name, count] of Object.entries(expected)) {
          await receiver.waitFor(
            `a count of ${count} in ${name}`,
            () =>
              receiver.metrics.find((m) =>
                m.name === name && m.sum?.dataPoints.some((point) => pointValue(point) === count)
              ),
          );
        }
      },
    );

    await t.step("request durations are recorded by route and status, and the pool in use is a gauge", async () => {
      await receiver.waitFor(
        "the confirm's duration",
        () =>
          receiver.metrics.find((m) =>
            m.name === "http.server.request.duration" &&
            m.histogram?.dataPoints.some((point) =>
              attribute(point, "http.route") === api("/reservations/{id}/confirm") &&
              attribute(point, "http.response.status_code") === 200
            )
          ),
      );
      await receiver.waitFor(
        "the pool gauge",
        () => receiver.metrics.find((m) => m.name === "db.client.operations.in_flight"),
      );
    });

    await t.step("a failure sets the error status on the request's span and on the statement's", async () => {
      const db = postgres(databaseUrl, { onnotice: () => {} });
      await db`ALTER TABLE reservations RENAME TO reservations_gone`;
      await db.end();
      const failing = await call(server, api("/reservations/"), { headers: { ...auth, "X-Request-Id": "failing-1" } });
      assertEquals(failing.status, 500);
      const span = await receiver.waitFor(
        "server span of the failure",
        () => receiver.spans.find((s) => attribute(s, "app.request.id") === "failing-1"),
      );
      assertEquals(span.status?.code, 2, "ERROR");
      assertEquals(span.events?.map((e) => e.name), ["exception"]);
      const statement = await receiver.waitFor(
        "the failed statement",
        () => receiver.spans.find((s) => s.parentSpanId === span.spanId && s.status?.code === 2),
      );
      assertEquals(attribute(statement, "error.type"), "42P01", "undefined_table, never the message");
    });
  } finally {
    await stopServer(server);
    await receiver.close();
  }
});

describeOnEveryBackend("the traced sql answers exactly as postgres.js does", async (step, t) => {
  const sql = traceSql(t.sql);
  await sql.unsafe("CREATE TABLE probe (id int PRIMARY KEY, label text NOT NULL)");

  await step("tagged templates, fragments and sql(object, ...columns) compose as before", async () => {
    await sql`INSERT INTO probe ${sql({ id: 1, label: "one", ignored: "x" }, "id", "label")}`;
    const onlyOne = true;
    const rows = await sql<{ label: string }[]>`SELECT label FROM probe ${onlyOne ? sql`WHERE id = ${1}` : sql``}`;
    assertEquals(rows.map((r) => r.label), ["one"]);
  });

  await step("a transaction returns its callback's result and rolls back when it throws", async () => {
    assertEquals(await sql.begin(async (tx) => (await tx`INSERT INTO probe VALUES (2, 'two') RETURNING id`)[0].id), 2);
    const failure = await sql.begin(async (tx) => {
      await tx`INSERT INTO probe VALUES (3, 'three')`;
      throw new Error("changed my mind");
    }).catch((error) => error);
    assertEquals(failure.message, "changed my mind");
    assertEquals((await sql`SELECT count(*)::int AS n FROM probe WHERE id = 3`)[0].n, 0);
  });

  await step("a transaction given an array of statements runs them all", async () => {
    const results = await sql.begin((tx) => [tx`INSERT INTO probe VALUES (4, 'four')`, tx`SELECT 1 AS one`]);
    assertEquals(results[1][0].one, 1);
  });

  await step("a failing statement rejects with the driver's error, through await and .catch alike", async () => {
    const caught = await sql`INSERT INTO probe VALUES (1, 'again')`.catch((error) => error);
    assert(caught instanceof postgres.PostgresError);
    assertEquals(caught.code, "23505");
  });

  await step("unsafe text and end pass through", async () => {
    assertEquals((await sql.unsafe("SELECT label FROM probe WHERE id = 4"))[0].label, "four");
    await sql.end({ timeout: 5 });
    const ended = await sql`SELECT 1`.catch((error) => error);
    assertEquals(ended.code, "CONNECTION_ENDED");
  });
});
