import type { AppRouteHandler } from "../http/router.ts";
import { logIn, logOut, refreshSession } from "./auth.service.ts";
import type * as routes from "./auth.routes.ts";

export const login: AppRouteHandler<typeof routes.login> = async (c) => {
  return c.json(await logIn(c.var.deps, c.req.valid("json")), 200);
};

export const refresh: AppRouteHandler<typeof routes.refresh> = async (c) => {
  return c.json(await refreshSession(c.var.deps, c.req.valid("json").refresh), 200);
};

export const logout: AppRouteHandler<typeof routes.logout> = async (c) => {
  await logOut(c.var.deps, c.var.caller, c.req.valid("json").refresh);
  return c.body(null, 204);
};
