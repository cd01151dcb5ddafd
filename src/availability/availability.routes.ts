import { createRoute } from "@hono/zod-openapi";
import { bearerAuth, jsonResponse, problems } from "../http/openapi.ts";
import { requireUser } from "../auth/guard.ts";
import { AvailabilityQuery, AvailabilitySchema } from "./availability.schemas.ts";

export const availability = createRoute({
  method: "get",
  path: "/availability",
  tags: ["availability"],
  summary: "Confirmed and remaining capacity of every slot of a UTC day or a window",
  middleware: [requireUser] as const,
  security: bearerAuth,
  request: { query: AvailabilityQuery },
  responses: { 200: jsonResponse(AvailabilitySchema, "One entry per slot, in order"), ...problems(400, 401, 503) },
});
