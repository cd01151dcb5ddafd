// The generated /openapi.json as typed clients and Swagger UI read it.
import { assert, assertEquals } from "./support/assert.ts";
import { openApiDocument } from "../src/tasks/openapi-document.ts";
import { api } from "../harness/paths.ts";

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

Deno.test("openapi – a booking's example is a window three weeks ahead on slot boundaries", () => {
  const { start_at, end_at, headcount } = spec.components.schemas.Booking.example;
  const ahead = (Date.parse(start_at) - Date.now()) / 86_400_000;
  assert(ahead > 20 && ahead < 22, `${start_at} is not three weeks ahead`);
  assertEquals(Date.parse(start_at) % 3_600_000, 0);
  assertEquals(Date.parse(end_at) % 3_600_000, 0);
  assert(Number.isInteger(headcount) && headcount > 0);
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
