import { z } from "@hono/zod-openapi";
import type { ErrorCode } from "./problem.ts";

export const ProblemSchema = z.object({
  type: z.string(),
  title: z.string(),
  status: z.number().int(),
  detail: z.string(),
  code: z.string() as z.ZodType<ErrorCode>,
  errors: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  request_id: z.string().optional(),
}).openapi("Problem");

export const bearerAuth = [{ bearerAuth: [] }];

/** A database id in the path: a positive PostgreSQL integer, so nothing larger reaches a query. */
export const IdParam = z.object({
  id: z.coerce.number().int().min(1).max(2_147_483_647).openapi({ param: { name: "id", in: "path" }, example: 1 }),
});

export function jsonBody<T extends z.ZodType>(schema: T) {
  return { required: true, content: { "application/json": { schema } } };
}

export function jsonResponse<T extends z.ZodType>(schema: T, description: string) {
  return { description, content: { "application/json": { schema } } };
}

const problemDescriptions: Record<number, string> = {
  400: "Invalid input or a broken booking rule",
  401: "Missing, invalid or expired credentials",
  403: "Not allowed for this user",
  404: "No such resource",
  409: "Conflicts with the current state",
  413: "Body over the size limit",
  429: "Too many attempts",
  503: "A dependency is unreachable",
};

/** The problem-document responses a route can give, for the generated spec. */
export function problems(...statuses: (keyof typeof problemDescriptions)[]) {
  return Object.fromEntries(
    statuses.map((status) => [
      status,
      { description: problemDescriptions[status], content: { "application/problem+json": { schema: ProblemSchema } } },
    ]),
  );
}
