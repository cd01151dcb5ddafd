import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../http/router.ts";
import { AppError, fieldErrors } from "../http/problem.ts";
import { headerParameter } from "../http/openapi.ts";
import { findOutcome, type KeyedRequest, keyJustUsed, type Outcome, storeProblem } from "./idempotency.service.ts";

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

const encoder = new TextEncoder();

/** Method, path (trailing slash or not) and body: what "the same request" means. */
async function fingerprintOf(c: Context): Promise<string> {
  const text = `${c.req.method} ${c.req.path.replace(/\/$/, "")}\n${await c.req.text()}`;
  const digest = await crypto.subtle.digest("SHA-256", encoder.encode(text));
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
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
 * key came with another request). Otherwise the service stores the outcome in the transaction of its effect.
 * Scoped to the signed-in caller, or to the key alone where there is none (registration).
 */
export const idempotent = createMiddleware<AppEnv>(async function idempotent(c, next) {
  const header = c.req.header(headerName);
  if (header === undefined) return await next();
  if (!validKey.test(header)) throw fieldErrors([{ path: headerName, message: keyRule }]);
  const deps = c.var.deps;
  const request = {
    scope: c.var.caller ? `user:${c.var.caller.id}` : "anonymous",
    key: header,
    fingerprint: await fingerprintOf(c),
  };
  // The caller's user is read alongside the lookup rather than after it.
  const [stored] = await Promise.all([findOutcome(deps, request), c.var.caller?.user.catch(() => {})]);
  if (stored && stored.fingerprint !== request.fingerprint) {
    throw new AppError("IDEMPOTENCY_KEY_REUSED", "This Idempotency-Key was sent with another method, path or body");
  }
  if (stored) return replay(c, stored);
  c.set("idempotency", request);
  await next();
  if (isRuleOutcome(c.error)) {
    const stored = await storeProblem(deps, request, { status: c.res.status, body: await c.res.clone().json() });
    if (!stored) throw keyJustUsed();
  }
});
