import { assert, assertEquals } from "./assert.ts";
import type { Reply } from "./app.ts";

// What only the inside of the service could write: stack frames, module paths, driver and SQL error text.
const internals = [
  /\bat \S+ \(?\S+:\d+:\d+\)?/,
  /file:\/\//,
  /node_modules|\.ts:\d+/,
  /PostgresError|postgres\.js/,
  /syntax error at or near|relation "|column "|violates|duplicate key|invalid input syntax/i,
  /ECONNREFUSED|CONNECTION_(CLOSED|ENDED|DESTROYED)|CONNECT_TIMEOUT|Upstash/i,
];

/** Fails when a reply shows anything of the service's insides. */
export function assertNoInternals(reply: Reply) {
  const text = typeof reply.body === "string" ? reply.body : JSON.stringify(reply.body);
  for (const pattern of internals) assert(!pattern.test(text), `${pattern} leaked in ${text.slice(0, 500)}`);
}

/** A well-formed RFC 9457 problem document with this status (and code, when given), revealing nothing inside. */
export function assertProblem(reply: Reply, status?: number, code?: string) {
  const context = `${reply.status} ${JSON.stringify(reply.body)?.slice(0, 500)}`;
  if (status !== undefined) assertEquals(reply.status, status, context);
  assertEquals(reply.headers.get("content-type"), "application/problem+json", context);
  const { type, title, detail } = reply.body ?? {};
  assert([type, title, detail].every((field) => typeof field === "string"), context);
  assertEquals(reply.body.status, reply.status, context);
  if (code !== undefined) assertEquals(reply.body.code, code, context);
  assertNoInternals(reply);
}

/** What any request may get, whatever it carries: a success, or a client-error problem document. Never a 5xx. */
export function assertHandled(reply: Reply) {
  assert(reply.status < 500, `${reply.status} ${JSON.stringify(reply.body)?.slice(0, 500)}`);
  if (reply.status >= 400) assertProblem(reply);
}
