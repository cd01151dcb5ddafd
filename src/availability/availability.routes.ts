import { guardedRoute, jsonResponse, problems } from "../http/openapi.ts";
import { signedIn } from "../auth/guard.ts";
import { AvailabilityQuery, AvailabilitySchema } from "./availability.schemas.ts";

export const availability = guardedRoute(signedIn, {
  method: "get",
  path: "/availability",
  operationId: "getAvailability",
  tags: ["availability"],
  summary: "Confirmed and remaining capacity of every slot of a UTC day or a window",
  request: { query: AvailabilityQuery },
  responses: { 200: jsonResponse(AvailabilitySchema, "One entry per slot, in order"), ...problems(400, 503) },
});
