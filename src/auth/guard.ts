import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../http/router.ts";
import { AppError } from "../http/problem.ts";
import { type Access, bearerAuth, problems } from "../http/openapi.ts";
import type { Caller } from "./auth.schemas.ts";
import { findSessionUser } from "./auth.service.ts";
import { verifyAccessToken } from "./tokens.ts";

declare module "hono" {
  interface ContextVariableMap {
    /** The signed-in caller, set by `requireUser`. */
    caller: Caller;
  }
}

/**
 * Accepts a valid access token of a session still on: the user is read on every request, so a deleted user, or one
 * who changed their password or logged out everywhere, is locked out at once, and a promotion applies at once. The
 * read is not waited for here: the handler's own queries go out alongside it. Whatever the handler answered, a
 * caller whose session has ended gets 401.
 */
export const requireUser = createMiddleware<AppEnv>(async function requireUser(c, next) {
  const [scheme, token] = (c.req.header("Authorization") ?? "").split(" ");
  if (scheme?.toLowerCase() !== "bearer" || !token) throw new AppError("UNAUTHENTICATED");
  const deps = c.var.deps;
  const session = await verifyAccessToken(deps, token);
  const user = findSessionUser(deps, session).then((found) => found ?? Promise.reject(new AppError("UNAUTHENTICATED")));
  user.catch(() => {}); // awaited below, after the handler
  c.set("caller", { id: session.userId, user });
  await next();
  await user;
});

/**
 * Admins only: the caller's user, when awaited, is refused with 403 unless an admin. Not waited for here either, so
 * a write reads its reservation alongside; a handler that never awaits it still answers 403.
 */
export const requireAdmin = createMiddleware<AppEnv>(async function requireAdmin(c, next) {
  const admin = c.var.caller.user.then((user) =>
    user.is_admin ? user : Promise.reject(new AppError("FORBIDDEN", "Only an admin may do this"))
  );
  admin.catch(() => {}); // awaited below, after the handler
  c.set("caller", { ...c.var.caller, user: admin });
  await next();
  await admin;
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
