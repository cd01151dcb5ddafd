import type { AppRouteHandler } from "../http/router.ts";
import { clientAddress } from "../http/forwarded.ts";
import { logIn, logOut, logOutEverywhere, refreshSession, updatePassword } from "./auth.service.ts";
import type * as routes from "./auth.routes.ts";

export const login: AppRouteHandler<typeof routes.login> = async (c) => {
  const deps = c.var.deps;
  const client = { address: clientAddress(c, deps.config.TRUST_PROXY) };
  return c.json(await logIn(deps, client, c.req.valid("json")), 200);
};

export const refresh: AppRouteHandler<typeof routes.refresh> = async (c) => {
  return c.json(await refreshSession(c.var.deps, c.req.valid("json").refresh), 200);
};

export const logout: AppRouteHandler<typeof routes.logout> = async (c) => {
  await logOut(c.var.deps, c.var.caller, c.req.valid("json").refresh);
  return c.body(null, 204);
};

export const logoutAll: AppRouteHandler<typeof routes.logoutAll> = async (c) => {
  await logOutEverywhere(c.var.deps, c.var.caller);
  return c.body(null, 204);
};

export const changePassword: AppRouteHandler<typeof routes.changePassword> = async (c) => {
  const deps = c.var.deps;
  const client = { address: clientAddress(c, deps.config.TRUST_PROXY) };
  await updatePassword(deps, c.var.caller, client, c.req.valid("json"));
  return c.body(null, 204);
};
