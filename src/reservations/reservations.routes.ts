import { z } from "@hono/zod-openapi";
import { guardedRoute, headerParameter, jsonBody, jsonResponse, problems } from "../http/openapi.ts";
import { IdParam } from "../http/schemas.ts";
import { adminOnly, adminOnlyChange, signedIn } from "../auth/guard.ts";
import { idempotencyKeyParameter, idempotent } from "../idempotency/idempotency.ts";
import {
  BookingChangesSchema,
  BookingSchema,
  BulkConfirmResultsSchema,
  BulkConfirmSchema,
  RejectionSchema,
  ReservationExportQuery,
  ReservationListQuery,
  ReservationPageSchema,
  ReservationSchema,
} from "./reservations.schemas.ts";
import { AuditPageSchema, AuditQuery, HistoryQuery, HistorySchema } from "./history.schemas.ts";

const tags = ["reservations"];

/** A response carrying one reservation: its ETag comes with it. */
const withEtag = (description: string) => ({
  ...jsonResponse(ReservationSchema, description),
  headers: z.object({ ETag: z.string().openapi({ description: "Strong; changes with every change of it" }) }),
});

/** Writes of one reservation: retried safely with an Idempotency-Key, guarded against lost updates with If-Match. */
const writeParameters = [
  idempotencyKeyParameter,
  headerParameter("If-Match", "The ETag last read: a reservation changed since is refused with 412, nothing changed"),
];

const retryProblems = problems(409, 422);

const csvExample = "id,user_id,username,email,start_at,end_at,headcount,status,created_at,confirmed_at,rejected_at," +
  "reject_reason\r\n1,2,acme,exams@acme.example,2027-04-15T05:00:00.000Z,2027-04-15T07:00:00.000Z,1200,pending," +
  "2027-04-01T09:30:00.000Z,,,\r\n";

export const create = guardedRoute(signedIn, {
  method: "post",
  path: "/reservations",
  operationId: "createReservation",
  tags,
  summary: "Request a reservation (pending until an admin confirms it)",
  middleware: [idempotent],
  parameters: [idempotencyKeyParameter],
  request: { body: jsonBody(BookingSchema) },
  responses: { 201: withEtag("The pending reservation"), ...problems(400, 409, 422, 503) },
});

export const list = guardedRoute(signedIn, {
  method: "get",
  path: "/reservations",
  operationId: "listReservations",
  tags,
  summary: "Your reservations (an admin: everyone's), newest first unless `ordering` says otherwise",
  request: { query: ReservationListQuery },
  responses: { 200: jsonResponse(ReservationPageSchema, "A page of reservations"), ...problems(400, 503) },
});

export const get = guardedRoute(signedIn, {
  method: "get",
  path: "/reservations/{id}",
  operationId: "getReservation",
  tags,
  summary: "One reservation (yours, or any for an admin)",
  parameters: [headerParameter("If-None-Match", "The ETag last read: 304 with no body while it is still current")],
  request: { params: IdParam },
  responses: {
    200: withEtag("The reservation"),
    304: { description: "Not modified since the ETag in If-None-Match" },
    ...problems(400, 404, 503),
  },
});

export const update = guardedRoute(signedIn, {
  method: "patch",
  path: "/reservations/{id}",
  operationId: "updateReservation",
  tags,
  summary: "Change the window or headcount (owner while pending, admin always)",
  middleware: [idempotent],
  parameters: writeParameters,
  request: { params: IdParam, body: jsonBody(BookingChangesSchema) },
  responses: { 200: withEtag("The changed reservation"), ...problems(400, 404, 412, 503), ...retryProblems },
});

export const remove = guardedRoute(signedIn, {
  method: "delete",
  path: "/reservations/{id}",
  operationId: "deleteReservation",
  tags,
  summary: "Delete a reservation (owner while pending, admin always)",
  middleware: [idempotent],
  parameters: writeParameters,
  request: { params: IdParam },
  responses: { 204: { description: "Deleted" }, ...problems(400, 404, 412, 503), ...retryProblems },
});

export const confirm = guardedRoute(adminOnlyChange, {
  method: "post",
  path: "/reservations/{id}/confirm",
  operationId: "confirmReservation",
  tags,
  summary: "Confirm a pending reservation against the remaining capacity (admin)",
  middleware: [idempotent],
  parameters: writeParameters,
  request: { params: IdParam },
  responses: { 200: withEtag("The confirmed reservation"), ...problems(400, 404, 412, 503), ...retryProblems },
});

export const reject = guardedRoute(adminOnlyChange, {
  method: "post",
  path: "/reservations/{id}/reject",
  operationId: "rejectReservation",
  tags,
  summary: "Reject a pending reservation, with a reason its owner sees (admin)",
  middleware: [idempotent],
  parameters: writeParameters,
  request: { params: IdParam, body: jsonBody(RejectionSchema) },
  responses: { 200: withEtag("The rejected reservation"), ...problems(400, 404, 412, 503), ...retryProblems },
});

export const confirmMany = guardedRoute(adminOnly, {
  method: "post",
  path: "/reservations/confirm",
  operationId: "confirmReservations",
  tags,
  summary: "Confirm up to 100 reservations, each judged in the order given as its own confirmation would be (admin)",
  middleware: [idempotent],
  parameters: [idempotencyKeyParameter],
  request: { body: jsonBody(BulkConfirmSchema) },
  responses: {
    200: jsonResponse(BulkConfirmResultsSchema, "One result per id, in the order given"),
    ...problems(400, 503),
    ...retryProblems,
  },
});

export const exportCsv = guardedRoute(signedIn, {
  method: "get",
  path: "/reservations/export",
  operationId: "exportReservations",
  tags,
  summary: "Every reservation the list would show (its filters and ordering), as CSV, streamed",
  request: { query: ReservationExportQuery },
  responses: {
    200: {
      description: "A header row, then one row per reservation (RFC 4180; cells that could start a formula get a `'`)",
      content: { "text/csv": { schema: z.string().openapi({ example: csvExample }) } },
    },
    ...problems(400, 503),
  },
});

export const history = guardedRoute(signedIn, {
  method: "get",
  path: "/reservations/{id}/history",
  operationId: "getReservationHistory",
  tags,
  summary: "Every change of a reservation, oldest first, a page at a time (owner or admin)",
  request: { params: IdParam, query: HistoryQuery },
  responses: { 200: jsonResponse(HistorySchema, "The events of the reservation"), ...problems(400, 404, 503) },
});

export const audit = guardedRoute(adminOnly, {
  method: "get",
  path: "/audit",
  operationId: "listAuditEvents",
  tags: ["audit"],
  summary: "Every change of every reservation, deleted ones included, newest first (admin)",
  request: { query: AuditQuery },
  responses: { 200: jsonResponse(AuditPageSchema, "A page of events"), ...problems(400, 503) },
});
