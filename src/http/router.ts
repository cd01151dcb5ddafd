import { OpenAPIHono, type RouteConfig, type RouteHandler } from "@hono/zod-openapi";
import type { Deps } from "../deps.ts";
import { validationError } from "./problem.ts";

export type AppEnv = {
  Variables: {
    deps: Deps;
  };
};

export type AppRouteHandler<R extends RouteConfig> = RouteHandler<R, AppEnv>;

/** A router whose paths match with or without a trailing slash and whose zod failures become 400 problems. */
export function createRouter() {
  return new OpenAPIHono<AppEnv>({
    strict: false,
    defaultHook: (result) => {
      if (!result.success) throw validationError(result.error);
    },
  });
}
