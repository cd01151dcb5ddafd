// The generated /openapi.json as typed clients and Swagger UI read it.
import { assert, assertEquals } from "./support/assert.ts";
import { withContext } from "./support/app.ts";
import { openApiDocument } from "../src/tasks/openapi-document.ts";
import { api } from "../harness/paths.ts";
import { findExecutable } from "../harness/process.ts";

// deno-lint-ignore no-explicit-any -- the OpenAPI document, read field by field
type Json = any;

const spec: Json = await openApiDocument();
const operations = Object.entries(spec.paths as Record<string, Record<string, Json>>)
  .flatMap(([path, methods]) => Object.entries(methods).map(([method, operation]) => ({ path, method, operation })));
const schemaOf = (schema: Json) => schema.$ref ? spec.components.schemas[schema.$ref.split("/").at(-1)] : schema;

Deno.test("openapi – every operation has a unique camelCase operationId and a summary", () => {
  const ids = operations.map(({ operation }) => operation.operationId);
  for (const { path, method, operation } of operations) {
    assert(/^[a-z][a-zA-Z]+$/.test(operation.operationId ?? ""), `${method} ${path} has no camelCase operationId`);
    assert(operation.summary, `${method} ${path} has no summary`);
  }
  assertEquals(new Set(ids).size, ids.length, "operationIds repeat");
});

Deno.test("openapi – every request body has an example", () => {
  for (const { path, method, operation } of operations) {
    const media = operation.requestBody?.content["application/json"];
    if (!media) continue;
    assert(media.example ?? schemaOf(media.schema).example, `${method} ${path} has a body without an example`);
  }
});

Deno.test("openapi – a booking's example is a window three weeks ahead on slot boundaries, its fields' examples the same", () => {
  const booking = spec.components.schemas.Booking;
  const { start_at, end_at, headcount } = booking.example;
  const ahead = (Date.parse(start_at) - Date.now()) / 86_400_000;
  assert(ahead > 20 && ahead < 22, `${start_at} is not three weeks ahead`);
  assertEquals(Date.parse(start_at) % 3_600_000, 0);
  assertEquals(Date.parse(end_at) % 3_600_000, 0);
  assert(Date.parse(start_at) < Date.parse(end_at), "start_at before end_at");
  assert(Number.isInteger(headcount) && headcount > 0);
  for (const schema of [booking, spec.components.schemas.BookingChanges]) {
    assertEquals([schema.properties.start_at.example, schema.properties.end_at.example], [start_at, end_at]);
  }
});

Deno.test("openapi – the examples of the booking bodies book and change as they stand, under the deployment's own rules", async () => {
  // Two-hour slots, a longer lead time and a smaller platform than the defaults: the examples follow them.
  const env = { SLOT_MINUTES: "120", BOOKING_LEAD_DAYS: "25", MAX_CONCURRENT_EXAMINEES: "1000" };
  await withContext({ env }, async (t) => {
    const served = (await t.request("GET", "/openapi.json")).body;
    const { Booking, BookingChanges, Reservation } = served.components.schemas;
    for (const schema of [Booking, BookingChanges, Reservation]) {
      assertEquals(schema.properties.headcount.maximum, 1000);
    }
    const { access } = await t.customer();
    const booked = await t.request("POST", api("/reservations/"), { token: access, body: Booking.example });
    assertEquals(booked.status, 201, JSON.stringify(booked.body));
    const changed = await t.request("PATCH", api(`/reservations/${booked.body.id}/`), {
      token: access,
      body: BookingChanges.example,
    });
    assertEquals(changed.status, 200, JSON.stringify(changed.body));
  });
});

Deno.test("openapi – headcount's maximum is MAX_CONCURRENT_EXAMINEES, its minimum 1", () => {
  const { headcount } = spec.components.schemas.Booking.properties;
  assertEquals([headcount.minimum, headcount.maximum], [1, 50_000]);
});

Deno.test("openapi – the description tells a newcomer how to log in and how the first admin is made", () => {
  const { description } = spec.info;
  for (
    const step of [api("/users/"), api("/users/login/"), "Authorize", "ADMIN_EMAIL", "ADMIN_PASSWORD", "create-admin"]
  ) {
    assert(description.includes(step), `the description does not mention ${step}`);
  }
});

Deno.test("openapi – the document names this server, and public operations say they need no token", () => {
  assertEquals(spec.servers.map((server: Json) => server.url), ["/"]);
  const open = operations.filter(({ operation }) => operation.security.length === 0).map(({ operation }) =>
    operation.operationId
  );
  assertEquals(open.toSorted(), ["getHealth", "loginUser", "refreshToken", "registerUser"]);
  for (const { operation } of operations.filter(({ operation }) => operation.security.length > 0)) {
    assertEquals(operation.security, [{ bearerAuth: [] }], operation.operationId);
  }
});

Deno.test("openapi – the main responses carry an example", () => {
  const main = [
    "registerUser",
    "loginUser",
    "refreshToken",
    "getCurrentUser",
    "getUser",
    "createReservation",
    "getReservation",
    "confirmReservation",
    "getAvailability",
    "getReservationHistory",
  ];
  for (const { operation } of operations.filter(({ operation }) => main.includes(operation.operationId))) {
    const [status, response] = Object.entries<Json>(operation.responses).find(([status]) => status.startsWith("2"))!;
    const schema = schemaOf(response.content["application/json"].schema);
    assert(schema.example, `${operation.operationId} ${status} has no example`);
  }
});

const redoclyHome = `${Deno.env.get("HOME")}/.local/redocly/node_modules/.bin`;

/** Redocly's recommended rules, with every example checked against its schema (schema examples too). */
const redoclyConfig = `extends:
  - recommended
rules:
  no-invalid-schema-examples: error
  no-invalid-media-type-examples: error
telemetry: off
`;

Deno.test("openapi – Redocly's recommended rules pass, every example valid against its schema", async () => {
  const redocly = findExecutable("redocly", [redoclyHome]);
  assert(redocly, `redocly is not installed: npm i --prefix "$HOME/.local/redocly" @redocly/cli (.ci/run does)`);
  const dir = await Deno.makeTempDir({ prefix: "exam-slots-redocly-" });
  try {
    await Deno.writeTextFile(`${dir}/openapi.json`, JSON.stringify(spec));
    await Deno.writeTextFile(`${dir}/redocly.yaml`, redoclyConfig);
    const { stdout, stderr } = await new Deno.Command(redocly, {
      args: ["lint", "--config", "redocly.yaml", "--format", "json", "openapi.json"],
      cwd: dir,
      clearEnv: true,
      // Telemetry and the update check would reach Redocly's servers: both off.
      env: {
        PATH: Deno.env.get("PATH") ?? "",
        HOME: dir,
        REDOCLY_TELEMETRY: "off",
        REDOCLY_SUPPRESS_UPDATE_NOTICE: "true",
        CI: "true",
      },
      stdin: "null",
    }).output();
    const text = new TextDecoder().decode(stdout);
    const report = JSON.parse(text.slice(text.indexOf("{")));
    const problems = report.problems.map((p: Json) =>
      `${p.severity} ${p.ruleId} ${p.location[0].pointer}: ${p.message}`
    );
    assertEquals(report.totals.errors, 0, `${problems.join("\n")}\n${new TextDecoder().decode(stderr)}`);
    // Warnings the API has reasons for: no licence is published yet, and the health check has no 4xx answer to give.
    assertEquals(problems.filter((p: string) => p.startsWith("warn")).toSorted(), [
      "warn info-license #/info: Info object should contain `license` field.",
      "warn operation-4xx-response #/paths/~1healthz/get/responses: Operation must have at least one `4XX` response.",
    ]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("openapi – retries, ETags and history are documented", () => {
  const operation = (method: string, path: string) => spec.paths[api(path)][method];
  const headers = (method: string, path: string) =>
    (operation(method, path).parameters ?? []).filter((p: Json) => p.in === "header").map((p: Json) => p.name);
  for (const [method, path] of [["post", "/users"], ["post", "/reservations"]]) {
    assert(headers(method, path).includes("Idempotency-Key"), `${method} ${path}`);
  }
  for (
    const [method, path] of [["patch", "/reservations/{id}"], ["delete", "/reservations/{id}"], [
      "post",
      "/reservations/{id}/confirm",
    ]]
  ) {
    assertEquals(headers(method, path), ["Idempotency-Key", "If-Match"], `${method} ${path}`);
    for (const status of ["412", "422"]) {
      assert(operation(method, path).responses[status], `${method} ${path} ${status}`);
    }
  }
  assert(operation("get", "/reservations/{id}").responses["304"]);
  assert(operation("get", "/reservations/{id}").responses["200"].headers.ETag);
  assert(operation("get", "/reservations/{id}/history"));
  assert(operation("get", "/audit"));
});
