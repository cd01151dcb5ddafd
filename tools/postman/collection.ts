import { openApiDocument } from "../../src/tasks/openapi-document.ts";
import { type Caller, check, type Step, tour } from "./tour.ts";

export const collectionPath = new URL("../../infra/postman_collection.json", import.meta.url);

// deno-lint-ignore no-explicit-any -- OpenAPI and Postman JSON, read and written field by field
type Json = any;

const bearer = (token: string) => ({ type: "bearer", bearer: [{ key: "token", value: token, type: "string" }] });
// Customers use the collection's Bearer {{access}}.
const authOf: Record<Caller, Json> = {
  anyone: { type: "noauth" },
  customer: undefined,
  admin: bearer("{{adminAccess}}"),
};

const script = (listen: "prerequest" | "test", exec: string[]) => ({
  listen,
  script: { type: "text/javascript", exec },
});

const resolve = (spec: Json, schema: Json) =>
  schema.$ref ? spec.components.schemas[schema.$ref.split("/").at(-1)] : schema;

/** The checks every answer gets from the spec: its status, its content type, the fields its schema requires. */
function contractChecks(spec: Json, status: number, response: Json): string[] {
  const checks = [check(`status ${status}`, `pm.response.to.have.status(${status})`)];
  const [type, content] = Object.entries<Json>(response.content ?? {})[0] ?? [];
  if (!type) return [...checks, check("no body", 'pm.expect(pm.response.text()).to.equal("")')];
  checks.push(
    check(type, `pm.expect(pm.response.headers.get("Content-Type")).to.match(/^${type.replace("/", "\\/")}/)`),
  );
  const required: string[] = resolve(spec, content.schema).required ?? [];
  if (required.length > 0) {
    const keys = required.map((key) => JSON.stringify(key)).join(", ");
    checks.push(
      check(`the fields ${required.join(", ")}`, `pm.expect(pm.response.json()).to.include.all.keys(${keys})`),
    );
  }
  return checks;
}

const parametersIn = (operation: Json, place: "path" | "query"): Json[] =>
  (operation.parameters ?? []).filter((p: Json) => p.in === place);

/** The operation `step` calls, checked against what the tour does with it. */
function operationOf(spec: Json, step: Step) {
  const [method, path] = step.operation.split(" ");
  const operation = spec.paths[path]?.[method.toLowerCase()];
  const fail = (problem: string) => new Error(`postman tour, "${step.name}" (${step.operation}): ${problem}`);
  if (!operation) throw fail("not in /openapi.json");
  const response = operation.responses[step.status];
  if (!response) throw fail(`${step.status} is not a documented answer`);
  if ((step.as === "anyone") !== !operation.security?.length) {
    throw fail(`its security does not fit a request as ${step.as}`);
  }
  if (!step.body !== !operation.requestBody) throw fail("a body is sent exactly when the operation takes one");
  for (const key of Object.keys(step.query ?? {})) {
    if (!parametersIn(operation, "query").some((p) => p.name === key)) throw fail(`no query parameter ${key}`);
  }
  for (const { name } of parametersIn(operation, "path")) {
    if (!step.path?.[name]) throw fail(`no value for the path parameter ${name}`);
  }
  return { method, path, operation, response };
}

/** The request URL: every documented query parameter listed, those the step leaves out disabled. */
function url(path: string, operation: Json, step: Step) {
  const given = step.query ?? {};
  const query = parametersIn(operation, "query");
  const pathParameters = parametersIn(operation, "path");
  const segments = path.split("/").filter(Boolean).map((s) => s.replace(/^\{(\w+)\}$/, ":$1"));
  const search = Object.entries(given).map(([key, value]) => `${key}=${value}`).join("&");
  return {
    raw: `{{baseUrl}}/${segments.join("/")}${search ? `?${search}` : ""}`,
    host: ["{{baseUrl}}"],
    path: segments,
    ...query.length > 0
      ? {
        query: query.map((p) => ({
          key: p.name,
          value: given[p.name] ?? "",
          ...p.description ? { description: p.description } : {},
          ...p.name in given ? {} : { disabled: true },
        })),
      }
      : {},
    ...pathParameters.length > 0
      ? { variable: pathParameters.map((p) => ({ key: p.name, value: step.path![p.name] })) }
      : {},
  };
}

const jsonBody = (body: Record<string, unknown>) => ({
  mode: "raw",
  raw: JSON.stringify(body, null, 2),
  options: { raw: { language: "json" } },
});

/** A Postman item for `step`: method, path and parameters from the spec; values, auth and scripts from the tour. */
function item(spec: Json, step: Step): Json {
  const { method, path, operation, response } = operationOf(spec, step);
  return {
    name: step.name,
    event: [
      ...step.before ? [script("prerequest", step.before)] : [],
      script("test", [...contractChecks(spec, step.status, response), ...step.after ?? []]),
    ],
    request: {
      method,
      ...authOf[step.as] ? { auth: authOf[step.as] } : {},
      header: step.body ? [{ key: "Content-Type", value: "application/json" }] : [],
      ...step.body ? { body: jsonBody(step.body) } : {},
      url: url(path, operation, step),
      description: operation.summary,
    },
  };
}

/** The documented operations the tour leaves out: a new route needs a step. */
function untoured(spec: Json): string[] {
  const toured = new Set(tour.map((step) => step.operation));
  return Object.entries<Json>(spec.paths)
    .flatMap(([path, methods]) => Object.keys(methods).map((method) => `${method.toUpperCase()} ${path}`))
    .filter((operation) => !toured.has(operation));
}

/** A Postman v2.1 collection that walks the API of `spec` end to end. */
export function collectionFor(spec: Json): Json {
  const missing = untoured(spec);
  if (missing.length > 0) {
    throw new Error(`postman tour: add a step to tools/postman/tour.ts for ${missing.join(", ")}`);
  }
  return {
    info: {
      name: spec.info.title,
      description: [
        "Run it in order (Postman's Runner, or `newman run`): it registers a customer, books, confirms as the admin",
        "and cleans up after itself. Set baseUrl, and adminEmail/adminPassword to the server's ADMIN_EMAIL/ADMIN_PASSWORD,",
        "and webhookUrl to a receiver of yours (public, or any address on a server run with WEBHOOK_ALLOW_PRIVATE=true).",
      ].join(" "),
      schema: "https://schema.getpostman.com/json/collection/v2.1.0/collection.json",
    },
    auth: bearer("{{access}}"),
    variable: [
      { key: "baseUrl", value: "http://localhost:8000", type: "string" },
      { key: "adminEmail", value: "", type: "string" },
      { key: "adminPassword", value: "", type: "string" },
      { key: "webhookUrl", value: "", type: "string" },
      { key: "password", value: "correct horse battery", type: "string" },
    ],
    item: tour.map((step) => item(spec, step)),
  };
}

/** The collection of the served /openapi.json. */
export const postmanCollection = async () => collectionFor(await openApiDocument());

export const serialize = (collection: Json) => `${JSON.stringify(collection, null, 2)}\n`;

if (import.meta.main) {
  await Deno.writeTextFile(collectionPath, serialize(await postmanCollection()));
  console.error(`wrote ${collectionPath.pathname}`);
}
