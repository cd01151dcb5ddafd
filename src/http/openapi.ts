import { createRoute, type RouteConfig, z } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import { errorCodes } from "./problem.ts";

export const ProblemSchema = z.object({
  type: z.string(),
  title: z.string(),
  status: z.number().int(),
  detail: z.string(),
  code: z.enum(errorCodes),
  errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  request_id: z.string().optional(),
}).openapi("Problem");

export const bearerAuth = [{ bearerAuth: [] }];

/**
 * An optional request header, documented as a parameter rather than validated as `request.headers` (which would make
 * typed clients pass a header object on every call); the code that reads it checks it.
 */
export const headerParameter = (name: string, description: string, example?: string) => ({
  name,
  in: "header" as const,
  required: false,
  description,
  schema: { type: "string" as const, ...(example ? { example } : {}) },
});

export function jsonBody<T extends z.ZodType>(schema: T) {
  return { required: true, content: { "application/json": { schema } } };
}

export function jsonResponse<T extends z.ZodType>(schema: T, description: string) {
  return { description, content: { "application/json": { schema } } };
}

const problemDescriptions = {
  400: "Invalid input or a broken booking rule",
  401: "Missing, invalid or expired credentials",
  403: "Not allowed for this user",
  404: "No such resource",
  409: "Conflicts with the current state",
  412: "If-Match does not match the current ETag",
  413: "Body over the size limit",
  422: "Idempotency-Key reused with another request",
  429: "Too many attempts",
  503: "A dependency is unreachable",
} as const;

type ProblemStatus = keyof typeof problemDescriptions;
type ProblemResponse = {
  description: string;
  content: { "application/problem+json": { schema: typeof ProblemSchema } };
};

/** The problem-document responses a route can give, keyed by their literal status so typed clients see them. */
export function problems<const S extends ProblemStatus[]>(...statuses: S): { [K in S[number]]: ProblemResponse } {
  return Object.fromEntries(statuses.map((status) => [status, {
    description: problemDescriptions[status],
    content: { "application/problem+json": { schema: ProblemSchema } },
  }])) as { [K in S[number]]: ProblemResponse };
}

/**
 * Who may call a route: the middleware that enforces it, how the spec declares it (its security, and `x-access`:
 * `user` for any signed-in user, `admin` for admins only), and the problems it adds.
 */
export type Access = {
  middleware: MiddlewareHandler[];
  security: RouteConfig["security"];
  responses: RouteConfig["responses"];
  access: "user" | "admin";
};

type Middlewares<R extends RouteConfig> = R["middleware"] extends MiddlewareHandler[] ? R["middleware"] : [];

type GuardedRoute<A extends Access, R extends RouteConfig> =
  & Omit<R, "responses" | "middleware">
  & Pick<A, "security">
  & { "x-access": A["access"] }
  & { middleware: [...A["middleware"], ...Middlewares<R>]; responses: A["responses"] & R["responses"] };

/**
 * `createRoute` for a route behind an access rule: its middleware (run before the route's own), security and problem
 * responses merged in.
 */
export function guardedRoute<
  A extends Access,
  P extends string,
  R extends Omit<RouteConfig, "path" | "middleware"> & { path: P; middleware?: MiddlewareHandler[] },
>(access: A, route: R) {
  const guarded = {
    ...route,
    middleware: [...access.middleware, ...(route.middleware ?? [])],
    security: access.security,
    "x-access": access.access,
    responses: { ...access.responses, ...route.responses },
  } as GuardedRoute<A, R>;
  return createRoute(guarded);
}
