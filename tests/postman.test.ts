// infra/postman_collection.json: generated from the spec, and run by newman against the real server.
import { assert, assertEquals, assertMatch } from "./support/assert.ts";
import { findExecutable } from "../harness/process.ts";
import { startServer, stopServer } from "../harness/server-process.ts";
import { startWebhookReceiver } from "./support/webhook-receiver.ts";
import { api } from "../harness/paths.ts";
import { collectionFor, collectionPath, postmanCollection, serialize } from "../tools/postman/collection.ts";
import { openApiDocument } from "../src/tasks/openapi-document.ts";

// deno-lint-ignore no-explicit-any -- collection and newman report JSON, checked field by field
type Json = any;

const committed = await Deno.readTextFile(collectionPath);
const collection: Json = JSON.parse(committed);
const requestOf = (item: Json) => `${item.request.method} /${item.request.url.path.join("/")}`;
const testScript = (item: Json) => item.event.find((e: Json) => e.listen === "test").script.exec.join("\n");

Deno.test("the committed Postman collection is what `deno task postman` writes", async () => {
  assert(
    committed === serialize(await postmanCollection()),
    "infra/postman_collection.json is stale: deno task postman",
  );
});

Deno.test("a documented operation the tour leaves out stops `deno task postman`, naming it", async () => {
  const spec: Json = await openApiDocument();
  spec.paths[api("/not-toured")] = { get: { responses: { 200: { description: "events" } } } };
  const refusal = (() => {
    try {
      collectionFor(spec);
    } catch (error) {
      return String(error);
    }
  })();
  assertMatch(refusal ?? "accepted", new RegExp(`add a step .* for GET ${api("/not-toured")}$`));
});

Deno.test("the Postman collection follows a person: register, log in, book, change, an admin confirms, clean up", () => {
  const steps = [
    `POST ${api("/users")}`,
    `POST ${api("/users/login")}`,
    `GET ${api("/users/me")}`,
    `GET ${api("/availability")}`,
    `POST ${api("/reservations")}`,
    `GET ${api("/reservations/:id")}`,
    `PATCH ${api("/reservations/:id")}`,
    `POST ${api("/users/login")}`,
    `POST ${api("/reservations/:id/confirm")}`,
    `GET ${api("/availability")}`,
    `GET ${api("/reservations")}`,
    `DELETE ${api("/reservations/:id")}`,
    `POST ${api("/users/logout")}`,
  ];
  const requests = collection.item.map(requestOf);
  let at = 0;
  for (const step of steps) {
    at = requests.indexOf(step, at) + 1;
    assert(at > 0, `${step} is missing or out of order in ${requests.join(", ")}`);
  }
});

Deno.test("the Postman collection sends Bearer {{access}} for the customer, {{adminAccess}} for the admin, and stores both", () => {
  assertEquals(collection.auth, { type: "bearer", bearer: [{ key: "token", value: "{{access}}", type: "string" }] });
  const variables = collection.variable.map((v: { key: string }) => v.key);
  for (const name of ["baseUrl", "adminEmail", "adminPassword"]) assert(variables.includes(name), `no {{${name}}}`);
  const [login, adminLogin] = collection.item.filter((item: Json) => requestOf(item) === `POST ${api("/users/login")}`);
  assertMatch(testScript(login), /pm\.collectionVariables\.set\("access", pm\.response\.json\(\)\.access\)/);
  assertMatch(testScript(login), /pm\.collectionVariables\.set\("refresh", pm\.response\.json\(\)\.refresh\)/);
  assertEquals(login.request.auth, { type: "noauth" });
  assertMatch(adminLogin.request.body.raw, /"email": "\{\{adminEmail\}\}"/);
  assertMatch(testScript(adminLogin), /pm\.collectionVariables\.set\("adminAccess", /);
  const confirm = collection.item.find((item: Json) => requestOf(item).endsWith("/confirm"));
  assertEquals(confirm.request.auth.bearer[0].value, "{{adminAccess}}");
  const me = collection.item.find((item: Json) => requestOf(item) === `GET ${api("/users/me")}`);
  assertEquals(me.request.auth, undefined, "customer requests inherit the collection's Bearer auth");
});

Deno.test("every Postman request checks its status and content type against the spec", () => {
  for (const item of collection.item) {
    assertMatch(testScript(item), /pm\.response\.to\.have\.status\(2\d\d\)/, item.name);
    assertMatch(testScript(item), /Content-Type|no body/, item.name);
  }
});

const newmanHome = `${Deno.env.get("HOME")}/.local/newman/node_modules/.bin`;

/** `newman run` of the committed collection with `variables` (baseUrl, admin credentials): its JSON report. */
async function newman(variables: Record<string, string>): Promise<{ report: Json; output: string }> {
  const newman = findExecutable("newman", [newmanHome]);
  assert(newman, `newman is not installed: npm i --prefix "$HOME/.local/newman" newman (.ci/run does)`);
  const reportPath = await Deno.makeTempFile({ prefix: "exam-slots-newman-", suffix: ".json" });
  try {
    const { stdout, stderr } = await new Deno.Command(newman, {
      args: [
        "run",
        collectionPath.pathname,
        ...Object.entries(variables).flatMap(([key, value]) => ["--env-var", `${key}=${value}`]),
        "--reporters",
        "cli,json",
        "--reporter-json-export",
        reportPath,
        "--color",
        "off",
      ],
      stdin: "null",
    }).output();
    const output = new TextDecoder().decode(stdout) + new TextDecoder().decode(stderr);
    return { report: JSON.parse(await Deno.readTextFile(reportPath)), output };
  } finally {
    await Deno.remove(reportPath);
  }
}

Deno.test("newman runs the collection end to end against a fresh `deno task start`, every request 2xx, twice", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "exam-slots-postman-" });
  const admin = { adminEmail: "admin@example.test", adminPassword: "admin-password-1" };
  const server = await startServer({
    APP_ENV: "development",
    DATA_DIR: dataDir,
    JWT_SECRET: "p".repeat(32),
    ADMIN_EMAIL: admin.adminEmail,
    ADMIN_PASSWORD: admin.adminPassword,
    WEBHOOK_ALLOW_PRIVATE: "true",
  });
  const receiver = startWebhookReceiver();
  try {
    // The second run meets the first one's leftovers: a fresh account per run keeps it green.
    for (const run of ["first", "second"]) {
      const { report, output } = await newman({ baseUrl: server.url, webhookUrl: receiver.url(), ...admin });
      const { stats, executions, failures } = report.run;
      assertEquals(failures.length, 0, `${run} run:\n${output}`);
      assertEquals(stats.assertions.failed, 0);
      assertEquals(executions.map((e: Json) => e.item.name), collection.item.map((item: Json) => item.name));
      for (const execution of executions) {
        assertMatch(String(execution.response.code), /^2\d\d$/, execution.item.name);
      }
    }
  } finally {
    await stopServer(server);
    await receiver.close();
    await Deno.remove(dataDir, { recursive: true });
  }
});
