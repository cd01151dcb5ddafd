import type { AppRouteHandler } from "../http/router.ts";
import { paginated } from "../http/pagination.ts";
import { clientAddress, publicUrl } from "../http/forwarded.ts";
import { deleteUser, getUser, listUsers, registerUser } from "./users.service.ts";
import type * as routes from "./users.routes.ts";

export const register: AppRouteHandler<typeof routes.register> = async (c) => {
  const deps = c.var.deps;
  const client = { address: clientAddress(c, deps.config.TRUST_PROXY), idempotency: c.var.idempotency };
  return c.json(await registerUser(deps, client, c.req.valid("json")), 201);
};

export const me: AppRouteHandler<typeof routes.me> = async (c) => c.json(await c.var.caller.user, 200);

export const list: AppRouteHandler<typeof routes.list> = async (c) => {
  const page = c.req.valid("query");
  const { count, users } = await listUsers(c.var.deps, c.var.caller, page);
  return c.json(paginated(publicUrl(c, c.var.deps.config.TRUST_PROXY), page, count, users), 200);
};

export const get: AppRouteHandler<typeof routes.get> = async (c) => {
  return c.json(await getUser(c.var.deps, c.var.caller, c.req.valid("param").id), 200);
};

export const remove: AppRouteHandler<typeof routes.remove> = async (c) => {
  await deleteUser(c.var.deps, c.var.caller, c.req.valid("param").id, { requestId: c.var.requestId });
  return c.body(null, 204);
};
