import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../http/router.ts";
import { AppError } from "../http/problem.ts";
import { type Access, bearerAuth, problems } from "../http/openapi.ts";
import { SessionCaller } from "./caller.ts";
import { writeRefusal } from "./rate-limits.ts";
import { verifyAccessToken } from "./tokens.ts";

declare module "hono" {
  interface ContextVariableMap {
    /** The signed-in caller, set by `requireUser`. */
    caller: SessionCaller;
  }
}

/**
 * Accepts a valid access token of a session still on: the user is read on every request, so a deleted user, or one
 * who changed their password or logged out everywhere, is locked out at once, and a promotion applies at once. The
 * read is not waited for here: on a route any signed-in user may call, it goes out with the handler's own queries, or
 * inside one of them, and every handler awaits it before any effect. Whatever the handler answered, a caller whose
 * session has ended gets 401.
 */
export const requireUser = createMiddleware<AppEnv>(async function requireUser(c, next) {
  const [scheme, token] = (c.req.header("Authorization") ?? "").split(" ");
  if (scheme?.toLowerCase() !== "bearer" || !token) throw new AppError("UNAUTHENTICATED");
  const deps = c.var.deps;
  const caller = new SessionCaller(deps, await verifyAccessToken(deps, token));
  c.set("caller", caller);
  await next();
  await caller.user;
});

/**
 * Admins only, decided before the handler runs: its queries (a count over every event, a write that forgets to await
 * the caller) never run for a customer, who gets 403 after the session read alone. This costs admin routes the
 * session read as a round trip of its own.
 */
export const requireAdmin = createMiddleware<AppEnv>(async function requireAdmin(c, next) {
  c.var.caller.requireAdmin();
  await c.var.caller.user;
  await next();
});

/**
 * Admins only, decided by the handler's first statement: the change of one reservation reads the caller's row in the
 * statement that reads the reservation, which reads the reservation only for an admin (`Caller.admits`), and judges the
 * caller before anything else. A customer still runs the session read alone, and an admin's change saves the round
 * trip of a session read of its own.
 */
const requireAdminInRead = createMiddleware<AppEnv>(async function requireAdminInRead(c, next) {
  c.var.caller.requireAdmin();
  await next();
});

const writes = new Set(["POST", "PATCH", "DELETE"]);

/**
 * WRITE_LIMIT writes a minute per signed-in customer, counted before the handler runs; admins are not limited. The
 * count is a cache call, not a database round trip; only an admin past the limit waits for the session read here.
 */
export const limitWrites = createMiddleware<AppEnv>(async function limitWrites(c, next) {
  if (writes.has(c.req.method)) {
    const { deps, caller } = c.var;
    const refusal = await writeRefusal(deps, caller.id, deps.config.WRITE_LIMIT);
    if (refusal && !(await caller.user).is_admin) throw refusal;
  }
  await next();
});

/** Any signed-in user. */
export const signedIn = {
  middleware: [requireUser, limitWrites] as [typeof requireUser, typeof limitWrites],
  security: bearerAuth,
  responses: problems(401, 429),
  access: "user",
} satisfies Access;

/** Admins only, for a change of one reservation (`changeReservation`): the admin check rides on its read. */
export const adminOnlyChange = {
  middleware: [requireUser, requireAdminInRead] as [typeof requireUser, typeof requireAdminInRead],
  security: bearerAuth,
  responses: problems(401, 403),
  access: "admin",
} satisfies Access;

/** Admins only: a customer gets 403, before anything else. Admins' writes are not limited. */
export const adminOnly = {
  middleware: [requireUser, requireAdmin] as [typeof requireUser, typeof requireAdmin],
  security: bearerAuth,
  responses: problems(401, 403),
  access: "admin",
} satisfies Access;
