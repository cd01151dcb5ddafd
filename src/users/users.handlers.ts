import type { AppRouteHandler } from "../http/router.ts";
import type { AuthUser } from "../auth/guard.ts";
import { AppError } from "../http/problem.ts";
import { paginated } from "../http/pagination.ts";
import { hashPassword } from "../auth/passwords.ts";
import { takeRegistrationAttempt } from "../auth/rate-limits.ts";
import { clientAddress, publicUrl } from "../http/forwarded.ts";
import { createUser, deleteUser, findUserById, listUsers } from "./users.service.ts";
import type * as routes from "./users.routes.ts";

/** A customer may only address themselves: any other id, existing or not, is 403. */
function assertSelfOrAdmin(caller: AuthUser, id: number) {
  if (!caller.is_admin && caller.id !== id) throw new AppError("FORBIDDEN", "You may only access your own account");
}

export const register: AppRouteHandler<typeof routes.register> = async (c) => {
  const { username, email, password } = c.req.valid("json");
  const { sql, config, cache } = c.var.deps;
  await takeRegistrationAttempt(cache, clientAddress(c, config.TRUST_PROXY), config.REGISTER_LIMIT);
  const user = await createUser(sql, {
    username,
    email,
    passwordHash: await hashPassword(password, config.BCRYPT_COST),
  });
  return c.json(user, 201);
};

export const me: AppRouteHandler<typeof routes.me> = (c) => c.json(c.var.user, 200);

export const list: AppRouteHandler<typeof routes.list> = async (c) => {
  const page = c.req.valid("query");
  const { count, users } = await listUsers(c.var.deps.sql, page);
  return c.json(paginated(publicUrl(c, c.var.deps.config.TRUST_PROXY), page, count, users), 200);
};

export const get: AppRouteHandler<typeof routes.get> = async (c) => {
  const { id } = c.req.valid("param");
  assertSelfOrAdmin(c.var.user, id);
  const user = await findUserById(c.var.deps.sql, id);
  if (!user) throw new AppError("NOT_FOUND", "No such user");
  return c.json(user, 200);
};

export const remove: AppRouteHandler<typeof routes.remove> = async (c) => {
  const { id } = c.req.valid("param");
  assertSelfOrAdmin(c.var.user, id);
  if (!(await deleteUser(c.var.deps.sql, id))) throw new AppError("NOT_FOUND", "No such user");
  return c.body(null, 204);
};
