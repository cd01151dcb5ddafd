import { guardedRoute, jsonBody, jsonResponse, problems } from "../http/openapi.ts";
import { IdParam } from "../http/schemas.ts";
import { adminOnly, signedIn } from "../auth/guard.ts";
import {
  BookingChangesSchema,
  BookingSchema,
  ReservationListQuery,
  ReservationPageSchema,
  ReservationSchema,
} from "./reservations.schemas.ts";

const tags = ["reservations"];

export const create = guardedRoute(signedIn, {
  method: "post",
  path: "/reservations",
  operationId: "createReservation",
  tags,
  summary: "Request a reservation (pending until an admin confirms it)",
  request: { body: jsonBody(BookingSchema) },
  responses: { 201: jsonResponse(ReservationSchema, "The pending reservation"), ...problems(400, 409, 503) },
});

export const list = guardedRoute(signedIn, {
  method: "get",
  path: "/reservations",
  operationId: "listReservations",
  tags,
  summary: "Your reservations (an admin: everyone's), newest first",
  request: { query: ReservationListQuery },
  responses: { 200: jsonResponse(ReservationPageSchema, "A page of reservations"), ...problems(400, 503) },
});

export const get = guardedRoute(signedIn, {
  method: "get",
  path: "/reservations/{id}",
  operationId: "getReservation",
  tags,
  summary: "One reservation (yours, or any for an admin)",
  request: { params: IdParam },
  responses: { 200: jsonResponse(ReservationSchema, "The reservation"), ...problems(400, 404, 503) },
});

export const update = guardedRoute(signedIn, {
  method: "patch",
  path: "/reservations/{id}",
  operationId: "updateReservation",
  tags,
  summary: "Change the window or headcount (owner while pending, admin always)",
  request: { params: IdParam, body: jsonBody(BookingChangesSchema) },
  responses: { 200: jsonResponse(ReservationSchema, "The changed reservation"), ...problems(400, 404, 409, 503) },
});

export const remove = guardedRoute(signedIn, {
  method: "delete",
  path: "/reservations/{id}",
  operationId: "deleteReservation",
  tags,
  summary: "Delete a reservation (owner while pending, admin always)",
  request: { params: IdParam },
  responses: { 204: { description: "Deleted" }, ...problems(400, 404, 409, 503) },
});

export const confirm = guardedRoute(adminOnly, {
  method: "post",
  path: "/reservations/{id}/confirm",
  operationId: "confirmReservation",
  tags,
  summary: "Confirm a pending reservation against the remaining capacity (admin)",
  request: { params: IdParam },
  responses: {
    200: jsonResponse(ReservationSchema, "The confirmed reservation"),
    ...problems(400, 404, 409, 503),
  },
});
