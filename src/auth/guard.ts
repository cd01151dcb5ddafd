import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../http/router.ts";
import { AppError } from "../http/problem.ts";
import { type Access, bearerAuth, problems } from "../http/openapi.ts";
import { SessionCaller } from "./caller.ts";
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
 * read is not waited for here: it goes out with the handler's own queries, or inside one of them. Whatever the
 * handler answered, a caller whose session has ended gets 401.
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

/** Admins only: the caller's user, however it is read, is refused with 403 unless an admin. */
export const requireAdmin = createMiddleware<AppEnv>(async function requireAdmin(c, next) {
  c.var.caller.require((user) => {
    if (!user.is_admin) throw new AppError("FORBIDDEN", "Only an admin may do this");
  });
  await next();
});

/** Any signed-in user. */
export const signedIn = {
  middleware: [requireUser] as [typeof requireUser],
  security: bearerAuth,
  responses: problems(401),
} satisfies Access;

/** Admins only: a customer gets 403. */
export const adminOnly = {
  middleware: [requireUser, requireAdmin] as [typeof requireUser, typeof requireAdmin],
  security: bearerAuth,
  responses: problems(401, 403),
} satisfies Access;
