import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../http/router.ts";
import { AppError, fieldErrors } from "../http/problem.ts";
import { headerParameter } from "../http/openapi.ts";
import { serverMac } from "../auth/server-mac.ts";
import {
  findOutcome,
  type KeyedRequest,
  keyJustUsed,
  type Lookup,
  type Outcome,
  storeProblem,
} from "./idempotency.service.ts";

declare module "hono" {
  interface ContextVariableMap {
    /** Set by `idempotent` when the request carries an Idempotency-Key that has no stored outcome yet. */
    idempotency?: KeyedRequest;
  }
}

const headerName = "Idempotency-Key";

/** The IETF draft's `Idempotency-Key`, as this service accepts it. */
const validKey = /^[\x20-\x7e]{1,255}$/;
const keyRule = "must be 1–255 printable ASCII characters";

/** The header as the spec documents it on the routes that take it. */
export const idempotencyKeyParameter = headerParameter(
  headerName,
  `A key that ${keyRule.replace("must be", "is")}. Send a unique key and retry freely: a repeat returns the ` +
    "stored outcome, changing nothing",
  "7f0c2b8e-3d4a-4e4b-9d1e-2a6c5b1f0e93",
);

/**
 * Method, path (trailing slash or not) and body: what "the same request" means, as a keyed MAC. A plain digest of a
 * registration's body would keep its password within reach of a dictionary for whoever reads the table.
 */
async function fingerprintOf(c: Context<AppEnv>): Promise<string> {
  const text = `${c.req.method} ${c.req.path.replace(/\/$/, "")}\n${await c.req.text()}`;
  return await serverMac(c.var.deps.config.JWT_SECRET, "idempotency-fingerprint", text);
}

/**
 * Whose keys these are: a signed-in caller's own; a registration's, as the contract has it, the key alone (there is no
 * caller yet). Another client sending a key already used learns only that it was (422), never the other's answer: a
 * replay needs the very same body, password included (the fingerprint is a keyed MAC of it).
 */
const scopeOf = (c: Context<AppEnv>) => c.var.caller ? `user:${c.var.caller.id}` : "register";

/** IDEMPOTENCY_KEYS_PER_USER live keys per scope: a new key past them waits until the oldest expires. */
function assertRoomForKey({ liveKeys, oldestExpiry }: Lookup, limit: number, now: Date) {
  if (liveKeys < limit) return;
  const seconds = Math.max(1, Math.ceil(((oldestExpiry?.getTime() ?? now.getTime()) - now.getTime()) / 1000));
  throw new AppError("RATE_LIMITED", `You hold ${limit} stored Idempotency-Keys; retry in ${seconds} s`, {
    headers: { "Retry-After": String(seconds) },
  });
}

function replay(c: Context, outcome: Outcome): Response {
  const headers = { ...outcome.headers, "Idempotent-Replayed": "true" };
  const body = outcome.body === null ? null : JSON.stringify(outcome.body);
  return c.newResponse(body, outcome.status as 200, { "Content-Type": "application/json", ...headers });
}

/** Outcomes of the business rules are kept; refusals before them (400, 401, 403, 412, 413, 429) and 5xx are not. */
const isRuleOutcome = (error: unknown): error is AppError =>
  error instanceof AppError && (error.status === 404 || error.status === 409) &&
  error.code !== "IDEMPOTENCY_KEY_IN_USE";

/**
 * Safe retries: a request with an Idempotency-Key is looked up first; a stored outcome is replayed (or 422 when the
 * key came with another request). Otherwise the service stores the outcome in the transaction of its effect, if the
 * scope has room for one more key. Scoped to the signed-in caller, or to the key alone (registration).
 */
export const idempotent = createMiddleware<AppEnv>(async function idempotent(c, next) {
  const header = c.req.header(headerName);
  if (header === undefined) return await next();
  if (!validKey.test(header)) throw fieldErrors([{ path: headerName, message: keyRule }]);
  const deps = c.var.deps;
  const [fingerprint, scope] = [await fingerprintOf(c), scopeOf(c)];
  const request = { scope, key: header, fingerprint };
  // The caller's user is read in the lookup itself, and judged before any replay: the outcome of a user whose session
  // has ended is theirs no more (401, not a replay), and a customer on an admin's route is refused (403).
  const lookup = await findOutcome(deps, request, c.var.caller);
  await c.var.caller?.settle(lookup.caller);
  const stored = lookup.outcome;
  if (stored && stored.fingerprint !== request.fingerprint) {
    throw new AppError("IDEMPOTENCY_KEY_REUSED", "This Idempotency-Key was sent with another method, path or body");
  }
  if (stored) return replay(c, stored);
  assertRoomForKey(lookup, deps.config.IDEMPOTENCY_KEYS_PER_USER, deps.clock());
  c.set("idempotency", request);
  await next();
  if (isRuleOutcome(c.error)) {
    const stored = await storeProblem(deps, request, { status: c.res.status, body: await c.res.clone().json() });
    if (!stored) throw keyJustUsed();
  }
});
