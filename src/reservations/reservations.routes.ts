import { createRoute } from "@hono/zod-openapi";
import { bearerAuth, IdParam, jsonBody, jsonResponse, problems } from "../http/openapi.ts";
import { requireAdmin, requireUser } from "../auth/guard.ts";
import {
  BookingChangesSchema,
  BookingSchema,
  ReservationListQuery,
  ReservationPageSchema,
  ReservationSchema,
} from "./reservations.schemas.ts";

const tags = ["reservations"];

export const create = createRoute({
  method: "post",
  path: "/reservations",
  tags,
  summary: "Request a reservation (pending until an admin confirms it)",
  middleware: [requireUser] as const,
  security: bearerAuth,
  request: { body: jsonBody(BookingSchema) },
  responses: { 201: jsonResponse(ReservationSchema, "The pending reservation"), ...problems(400, 401, 409, 503) },
});

export const list = createRoute({
  method: "get",
  path: "/reservations",
  tags,
  summary: "Your reservations (an admin: everyone's), newest first",
  middleware: [requireUser] as const,
  security: bearerAuth,
  request: { query: ReservationListQuery },
  responses: { 200: jsonResponse(ReservationPageSchema, "A page of reservations"), ...problems(400, 401, 503) },
});

export const get = createRoute({
  method: "get",
  path: "/reservations/{id}",
  tags,
  summary: "One reservation (yours, or any for an admin)",
  middleware: [requireUser] as const,
  security: bearerAuth,
  request: { params: IdParam },
  responses: { 200: jsonResponse(ReservationSchema, "The reservation"), ...problems(400, 401, 404, 503) },
});

export const update = createRoute({
  method: "patch",
  path: "/reservations/{id}",
  tags,
  summary: "Change the window or headcount (owner while pending, admin always)",
  middleware: [requireUser] as const,
  security: bearerAuth,
  request: { params: IdParam, body: jsonBody(BookingChangesSchema) },
  responses: { 200: jsonResponse(ReservationSchema, "The changed reservation"), ...problems(400, 401, 404, 409, 503) },
});

export const remove = createRoute({
  method: "delete",
  path: "/reservations/{id}",
  tags,
  summary: "Delete a reservation (owner while pending, admin always)",
  middleware: [requireUser] as const,
  security: bearerAuth,
  request: { params: IdParam },
  responses: { 204: { description: "Deleted" }, ...problems(400, 401, 404, 409, 503) },
});

export const confirm = createRoute({
  method: "post",
  path: "/reservations/{id}/confirm",
  tags,
  summary: "Confirm a pending reservation against the remaining capacity (admin)",
  middleware: [requireUser, requireAdmin] as const,
  security: bearerAuth,
  request: { params: IdParam },
  responses: {
    200: jsonResponse(ReservationSchema, "The confirmed reservation"),
    ...problems(400, 401, 403, 404, 409, 503),
  },
});
