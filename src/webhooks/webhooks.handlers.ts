import type { AppRouteHandler } from "../http/router.ts";
import { paginated } from "../http/pagination.ts";
import { publicUrl } from "../http/forwarded.ts";
import { deleteWebhook, listDeliveryAttempts, listWebhooks, registerWebhook } from "./webhooks.service.ts";
import type * as routes from "./webhooks.routes.ts";

export const create: AppRouteHandler<typeof routes.create> = async (c) => {
  return c.json(await registerWebhook(c.var.deps, c.var.caller, c.req.valid("json")), 201);
};

export const list: AppRouteHandler<typeof routes.list> = async (c) => {
  const page = c.req.valid("query");
  const { count, webhooks } = await listWebhooks(c.var.deps, c.var.caller, page);
  return c.json(paginated(publicUrl(c, c.var.deps.config.TRUST_PROXY), page, count, webhooks), 200);
};

export const remove: AppRouteHandler<typeof routes.remove> = async (c) => {
  await deleteWebhook(c.var.deps, c.var.caller, c.req.valid("param").id);
  return c.body(null, 204);
};

export const deliveries: AppRouteHandler<typeof routes.deliveries> = async (c) => {
  const page = c.req.valid("query");
  const { count, attempts } = await listDeliveryAttempts(c.var.deps, c.var.caller, c.req.valid("param").id, page);
  return c.json(paginated(publicUrl(c, c.var.deps.config.TRUST_PROXY), page, count, attempts), 200);
};
