import fc from "fast-check";
import { assert, assertEquals } from "./support/assert.ts";
import { type TestContext, withContext } from "./support/app.ts";
import { assertHandled, assertProblem } from "./support/problems.ts";
import { type JsonSchema, type Operation, operations } from "./support/spec.ts";
import { api } from "../harness/paths.ts";

// Every property sends what it generates through the real app on PostgreSQL + Redis and asks one thing of the
// reply: a success, or a 4xx problem document that shows nothing of the inside (tests/support/problems.ts).

const hourMs = 3600_000;
const offsets = ["Z", "+09:00", "-05:30", "+00:00"];

/** ISO instants: mostly slot-aligned ones near the test clock (so requests reach the database), some anywhere. */
const instant = fc.oneof(
  fc.tuple(fc.integer({ min: -48, max: 60 * 24 }), fc.constantFrom(...offsets)).map(([hours, offset]) => {
    const at = Date.UTC(2027, 3, 1) + hours * hourMs;
    const shift = offset === "Z" ? 0 : (offset.startsWith("-") ? -1 : 1) *
      (Number(offset.slice(1, 3)) * 60 + Number(offset.slice(4))) * 60_000;
    return new Date(at + shift).toISOString().replace("Z", offset);
  }),
  fc.date({ noInvalidDate: true }).map((date) => date.toISOString()),
  fc.constantFrom("0000-01-01T00:00:00Z", "9999-12-31T23:00:00Z", "2027-02-30T00:00:00Z", "2027-04-15T24:00:00Z"),
);

const day = fc.oneof(
  fc.date({ min: new Date("2027-01-01"), max: new Date("2027-12-31"), noInvalidDate: true })
    .map((date) => date.toISOString().slice(0, 10)),
  fc.constantFrom("0000-01-01", "9999-12-31", "2027-02-30", "2027-13-01"),
);

/** Values shaped by a JSON schema of the spec, mostly valid, sometimes just out of range. */
function fromSchema(schema: JsonSchema, name = ""): fc.Arbitrary<unknown> {
  if (schema.enum) return fc.constantFrom(...schema.enum);
  if (schema.type === "integer") {
    return fc.oneof(fc.integer({ min: schema.minimum ?? -1000, max: schema.maximum ?? 100_000 }), fc.integer());
  }
  if (schema.type === "object") return objectFromSchema(schema);
  if (schema.format === "date-time") return instant;
  if (schema.format === "date") return day;
  if (schema.type !== "string") return fc.jsonValue();
  const bounded = fc.string({ minLength: schema.minLength ?? 0, maxLength: Math.min(schema.maxLength ?? 80, 80) });
  return fc.oneof(
    bounded,
    schema.pattern ? fc.stringMatching(new RegExp(schema.pattern)) : bounded,
    name.includes("email") ? fc.emailAddress() : fc.constant(String(schema.example ?? "")),
  );
}

/**
 * Objects of the schema's fields: freely generated (password2 often repeating the password, as people type it),
 * or the spec's example, as is or with one field drawn anew, so many requests get past validation.
 */
function objectFromSchema(schema: JsonSchema): fc.Arbitrary<Record<string, unknown>> {
  const fields = Object.entries(schema.properties ?? {});
  const free = fc.record(
    Object.fromEntries(fields.map(([key, field]) => [key, fromSchema(field, key)])) as Record<
      string,
      fc.Arbitrary<unknown>
    >,
    { requiredKeys: schema.required ?? [] },
  );
  const typed = fc.tuple(free, fc.boolean()).map(([body, retyped]) =>
    retyped && "password" in body ? { ...body, password2: body.password } : body
  );
  if (fields.length === 0) return typed;
  const example = Object.fromEntries(fields.map(([key, field]) => [key, field.example]));
  const varied = fc.constantFrom(...fields).chain(([key, field]) =>
    fromSchema(field, key).map((value) => ({ ...example, [key]: value }))
  );
  return fc.oneof(typed, varied, fc.constant(example));
}

/** A body's keys with values of any JSON type. */
const wrongTypes = (keys: string[]) =>
  fc.record(
    Object.fromEntries(keys.map((key) => [key, fc.jsonValue()])) as Record<string, fc.Arbitrary<fc.JsonValue>>,
    {
      requiredKeys: [],
    },
  ).map((body) => JSON.stringify(body));

/** Raw JSON text the schema never imagined: numbers beyond doubles, duplicate keys, odd unicode, huge strings. */
function hostileBody(keys: string[]): fc.Arbitrary<string> {
  const key = keys.length > 0 ? fc.constantFrom(...keys) : fc.string();
  const number = fc.constantFrom(
    "1e400",
    "-1e400",
    "1e-400",
    "-0",
    "9007199254740993",
    "123456789012345678901234567890",
  );
  const unicode = fc.oneof(
    fc.string({ unit: "binary", maxLength: 200 }),
    fc.constantFrom("\u0000", "\ud800", "\u202e\u0627", "👩‍👩‍👧‍👦".repeat(50), "\uFEFF", "Ａｄｍｉｎ", "ǅ"),
  );
  const long = fc.integer({ min: 10_000, max: 400_000 }).map((n) => "é".repeat(n));
  const pair = fc.tuple(key, fc.oneof(number, unicode.map((s) => JSON.stringify(s)), long.map((s) => `"${s}"`)))
    .map(([k, v]) => `${JSON.stringify(k)}: ${v}`);
  return fc.oneof(
    fc.json(),
    wrongTypes(keys),
    fc.array(pair, { minLength: 1, maxLength: 6 }).map((pairs) => `{${pairs.join(", ")}}`),
    fc.tuple(key, fc.jsonValue(), fc.jsonValue()).map(([k, first, second]) =>
      `{${JSON.stringify(k)}: ${JSON.stringify(first)}, ${JSON.stringify(k)}: ${JSON.stringify(second)}}`
    ),
    fc.string({ unit: "binary", maxLength: 300 }),
    fc.constantFrom("", "null", "[]", '"text"', "{", '{"a":', "[".repeat(10_000), '{"__proto__": {"is_admin": true}}'),
  );
}

const queryValue = fc.oneof(
  fc.string({ unit: "binary", maxLength: 60 }).map(encodeURIComponent),
  fc.constantFrom("", "%", "%zz", "%00", "1e309", "NaN", "Infinity", "-0", "0x10", "%201", "1.5", "-1", "0"),
  fc.constantFrom("99999999999999999999", "2147483648", "2027-04-15T14:00:00Z", "2027-04-15", "pending", "confirmed"),
);

/** Path ids of any shape, never one of the test's own users (an admin deleting itself ends the run's coverage). */
const pathId = (protectedIds: number[]) =>
  fc.oneof(
    fc.integer({ min: 1, max: 60 }).map(String),
    fc.integer({ min: 1, max: 2_147_483_647 }).map(String),
    fc.oneof(fc.integer().map(String), fc.string({ maxLength: 20 }).map(encodeURIComponent)),
    fc.constantFrom("0", "-1", "1e3", "0x10", "2147483648", "99999999999999999999", "1.5", "%00", "..%2F..", "me"),
  ).filter((id) => !protectedIds.includes(Number(decodeURIComponent(id.replace(/%(?![0-9a-f]{2})/gi, "")))));

async function actors(t: TestContext) {
  const admin = await t.admin();
  const customer = await t.customer();
  return {
    tokens: { admin: admin.access, customer: customer.access, nobody: undefined },
    ids: [admin.id, customer.id],
  };
}

const caller = fc.constantFrom("admin" as const, "customer" as const, "nobody" as const);

/** Sends raw text with the app's own request: what a client can put on the wire, nothing smoothed over. */
async function sendRaw(t: TestContext, op: Operation, url: string, token: string | undefined, body?: string) {
  const headers: Record<string, string> = body === undefined ? {} : { "Content-Type": "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  const response = await t.app.request(`http://api.test${url}`, { method: op.method, headers, body });
  const text = await response.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text);
  } catch { /* kept as text */ }
  return { status: response.status, headers: response.headers, body: parsed };
}

Deno.test("every route answers bodies, queries and ids drawn from its schema with a success or a 4xx problem", async () => {
  await withContext({}, async (t) => {
    const { tokens, ids } = await actors(t);
    const routes = await operations(t);
    const request = fc.constantFrom(...routes).chain((op) =>
      fc.record({
        op: fc.constant(op),
        body: op.body ? fromSchema(op.body) : fc.constant(undefined),
        query: fromSchema({ type: "object", properties: op.query }),
        id: pathId(ids),
        who: caller,
      })
    );
    await fc.assert(
      fc.asyncProperty(request, async ({ op, body, query, id, who }) => {
        const search = new URLSearchParams(Object.entries(query as object).map(([k, v]) => [k, String(v)]));
        const url = `${op.path.replace(":id", id)}?${search}`;
        assertHandled(await sendRaw(t, op, url, tokens[who], body === undefined ? undefined : JSON.stringify(body)));
      }),
      { numRuns: 300 },
    );
  });
});

Deno.test("arbitrary JSON, wrong types, huge numbers, odd unicode, duplicate keys and long strings are never a 500", async () => {
  await withContext({}, async (t) => {
    const { tokens, ids } = await actors(t);
    const withBodies = (await operations(t)).filter((op) => op.body !== undefined);
    const request = fc.constantFrom(...withBodies).chain((op) =>
      fc.record({
        op: fc.constant(op),
        body: hostileBody(Object.keys(op.body!.properties ?? {})),
        id: pathId(ids),
        who: caller,
      })
    );
    await fc.assert(
      fc.asyncProperty(request, async ({ op, body, id, who }) => {
        assertHandled(await sendRaw(t, op, op.path.replace(":id", id), tokens[who], body));
      }),
      { numRuns: 250 },
    );
  });
});

Deno.test("query strings of any keys and values are a success or a 4xx problem, never a 500", async () => {
  await withContext({}, async (t) => {
    const { tokens } = await actors(t);
    const listings = (await operations(t)).filter((op) => op.method === "GET" && Object.keys(op.query).length > 0);
    const request = fc.constantFrom(...listings).chain((op) =>
      fc.record({
        op: fc.constant(op),
        pairs: fc.array(
          fc.tuple(fc.oneof(fc.constantFrom(...Object.keys(op.query)), fc.string({ maxLength: 10 })), queryValue),
          { maxLength: 6 },
        ),
        who: caller,
      })
    );
    await fc.assert(
      fc.asyncProperty(request, async ({ op, pairs, who }) => {
        const search = pairs.map(([key, value]) => `${encodeURIComponent(key)}=${value}`).join("&");
        assertHandled(await sendRaw(t, op, `${op.path}?${search}`, tokens[who]));
      }),
      { numRuns: 300 },
    );
  });
});

const injections = [
  "' OR '1'='1",
  "' OR 1=1 --",
  "'; DROP TABLE canary; --",
  '"; DROP TABLE canary; --',
  "1; DROP TABLE canary",
  "1 OR 1=1",
  "' UNION SELECT password_hash, null FROM users --",
  "'; SELECT pg_sleep(3); --",
  "1' AND pg_sleep(3) IS NULL --",
  "$$; DROP TABLE canary; $$",
  "\\'; DROP TABLE canary; --",
  "admin'--",
  "%' OR '1'='1",
  "'); DELETE FROM users; --",
  "1)) OR ((1=1",
];

/** A valid value for each field of a schema, from the spec's examples; strings that must be unique made so. */
function validBody(schema: JsonSchema, serial: number): Record<string, unknown> {
  const body = Object.fromEntries(
    Object.entries(schema.properties ?? {}).map(([key, field]) => [key, field.example]),
  );
  if ("username" in body) Object.assign(body, { username: `inj${serial}`, email: `inj${serial}@example.test` });
  return body;
}

Deno.test("SQL injection in every string field, filter and id is stored verbatim or refused, never executed", async () => {
  await withContext({}, async (t) => {
    const { tokens } = await actors(t);
    await t.sql`CREATE TABLE canary (alive boolean)`;
    await t.sql`INSERT INTO canary VALUES (true)`;
    const routes = await operations(t);
    let serial = 0;
    const attempts: { label: string; send: () => Promise<unknown> }[] = [];
    for (const op of routes) {
      const path = op.path.replace(":id", "1");
      const stringFields = Object.entries(op.body?.properties ?? {}).filter(([, field]) => field.type === "string");
      for (const [field] of stringFields) {
        for (const payload of injections) {
          attempts.push({
            label: `${op.method} ${op.path} ${field}`,
            send: () => {
              const body = { ...validBody(op.body!, ++serial), [field]: payload };
              return sendRaw(t, op, path, tokens.admin, JSON.stringify(body));
            },
          });
        }
      }
      for (const name of [...Object.keys(op.query), ...(op.path.includes(":id") ? [":id"] : [])]) {
        for (const payload of injections) {
          const url = name === ":id"
            ? op.path.replace(":id", encodeURIComponent(payload))
            : `${path}?${name}=${encodeURIComponent(payload)}`;
          attempts.push({ label: `${op.method} ${op.path} ${name}`, send: () => sendRaw(t, op, url, tokens.admin) });
        }
      }
    }
    assert(attempts.length > 100);
    for (const { label, send } of attempts) {
      const started = performance.now();
      const reply = await send() as Parameters<typeof assertHandled>[0];
      assertHandled(reply);
      assert(performance.now() - started < 2_000, `${label} waited: pg_sleep ran?`);
    }
    assertEquals([...await t.sql`SELECT alive FROM canary`], [{ alive: true }]);

    // Stored verbatim: a password and an email made of SQL, read back exactly and usable to log in.
    const password = "'; DROP TABLE canary; --";
    const email = "o'hara'--@example.test";
    const registered = await t.request("POST", api("/users/"), {
      body: { username: "ohara", email, password, password2: password },
    });
    assertEquals([registered.status, registered.body.email], [201, email]);
    assertEquals((await t.request("POST", api("/users/login/"), { body: { email, password } })).status, 200);
    const wrong = await t.request("POST", api("/users/login/"), {
      body: { email: "'or'1'--@example.test", password: "x" },
    });
    assertProblem(wrong, 401, "INVALID_CREDENTIALS");
    assertEquals([...await t.sql`SELECT alive FROM canary`], [{ alive: true }]);
  });
});
