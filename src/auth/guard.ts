import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../http/router.ts";
import { AppError } from "../http/problem.ts";
import { type Access, bearerAuth, problems } from "../http/openapi.ts";
import type { User } from "./auth.schemas.ts";
import { findSessionUser } from "./auth.service.ts";
import { verifyAccessToken } from "./tokens.ts";

declare module "hono" {
  interface ContextVariableMap {
    /** The signed-in caller, set by `requireUser`. */
    user: User;
  }
}

/**
 * Accepts a valid access token of a session still on: the user is read on every request, so a deleted user, or
 * one who changed their password or logged out everywhere, is locked out at once, and a promotion applies at once.
 */
export const requireUser = createMiddleware<AppEnv>(async function requireUser(c, next) {
  const [scheme, token] = (c.req.header("Authorization") ?? "").split(" ");
  if (scheme?.toLowerCase() !== "bearer" || !token) throw new AppError("UNAUTHENTICATED");
  const deps = c.var.deps;
  const user = await findSessionUser(deps, await verifyAccessToken(deps, token));
  if (!user) throw new AppError("UNAUTHENTICATED");
  c.set("user", user);
  await next();
});

export const requireAdmin = createMiddleware<AppEnv>(async function requireAdmin(c, next) {
  if (!c.var.user?.is_admin) throw new AppError("FORBIDDEN", "Only an admin may do this");
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
