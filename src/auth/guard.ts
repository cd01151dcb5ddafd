import { createMiddleware } from "hono/factory";
import type { AppEnv } from "../http/router.ts";
import { AppError } from "../http/problem.ts";
import { findUserById } from "../users/users.service.ts";
import type { User } from "../users/users.schemas.ts";
import { verifyAccessToken } from "./tokens.ts";

export type AuthUser = User;

/**
 * Accepts a valid access token of a user who still exists: the user is read on every request, so a
 * deleted user is locked out at once and a promotion to admin applies at once.
 */
export const requireUser = createMiddleware<AppEnv>(async (c, next) => {
  const header = c.req.header("Authorization") ?? "";
  const [scheme, token] = header.split(" ");
  if (scheme?.toLowerCase() !== "bearer" || !token) throw new AppError("UNAUTHENTICATED");
  const deps = c.var.deps;
  const user = await findUserById(deps.sql, await verifyAccessToken(deps, token));
  if (!user) throw new AppError("UNAUTHENTICATED");
  c.set("user", user);
  await next();
});

export const requireAdmin = createMiddleware<AppEnv>(async (c, next) => {
  if (!c.var.user?.is_admin) throw new AppError("FORBIDDEN", "Only an admin may do this");
  await next();
});
