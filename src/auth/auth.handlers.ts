import type { AppRouteHandler } from "../http/router.ts";
import { AppError } from "../http/problem.ts";
import { findCredentials, findUserById } from "../users/users.service.ts";
import { verifyPassword } from "./passwords.ts";
import { returnLoginAttempt, takeLoginAttempt } from "./rate-limits.ts";
import { issueTokens, readRefreshToken, revokeRefreshToken, spendRefreshToken } from "./tokens.ts";
import type * as routes from "./auth.routes.ts";

export const login: AppRouteHandler<typeof routes.login> = async (c) => {
  const { email, password } = c.req.valid("json");
  const deps = c.var.deps;
  await takeLoginAttempt(deps.cache, email);
  const credentials = await findCredentials(deps.sql, email);
  if (!(await verifyPassword(password, credentials?.password_hash, deps.config.BCRYPT_COST))) {
    throw new AppError("INVALID_CREDENTIALS", "Wrong email or password");
  }
  await returnLoginAttempt(deps.cache, email);
  return c.json(await issueTokens(deps, credentials.id), 200);
};

export const refresh: AppRouteHandler<typeof routes.refresh> = async (c) => {
  const deps = c.var.deps;
  const claims = await readRefreshToken(deps, c.req.valid("json").refresh);
  await spendRefreshToken(deps, claims);
  const user = await findUserById(deps.sql, Number(claims.sub));
  if (!user) throw new AppError("UNAUTHENTICATED", "The user no longer exists");
  return c.json(await issueTokens(deps, user.id, claims.fam), 200);
};

export const logout: AppRouteHandler<typeof routes.logout> = async (c) => {
  const deps = c.var.deps;
  const claims = await readRefreshToken(deps, c.req.valid("json").refresh);
  if (Number(claims.sub) !== c.var.user.id) throw new AppError("UNAUTHENTICATED", "Not one of your refresh tokens");
  await spendRefreshToken(deps, claims);
  await revokeRefreshToken(deps, claims);
  return c.body(null, 204);
};
