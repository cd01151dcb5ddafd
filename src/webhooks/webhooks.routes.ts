import { guardedRoute, jsonBody, jsonResponse, problems } from "../http/openapi.ts";
import { PageQuery } from "../http/pagination.ts";
import { IdParam } from "../http/schemas.ts";
import { signedIn } from "../auth/guard.ts";
import {
  CreatedWebhookSchema,
  DeliveryAttemptPageSchema,
  WebhookInputSchema,
  WebhookPageSchema,
} from "./webhooks.schemas.ts";

const tags = ["webhooks"];

export const create = guardedRoute(signedIn, {
  method: "post",
  path: "/webhooks",
  operationId: "createWebhook",
  tags,
  summary: "Register an endpoint for your reservations' events (an admin's: every reservation's); secret shown once",
  request: { body: jsonBody(WebhookInputSchema) },
  responses: {
    201: jsonResponse(CreatedWebhookSchema, "The endpoint, with the secret its deliveries are signed with"),
    ...problems(400, 409, 503),
  },
});

export const list = guardedRoute(signedIn, {
  method: "get",
  path: "/webhooks",
  operationId: "listWebhooks",
  tags,
  summary: "Your webhook endpoints, oldest first (no secrets)",
  request: { query: PageQuery },
  responses: { 200: jsonResponse(WebhookPageSchema, "A page of endpoints"), ...problems(400, 503) },
});

export const remove = guardedRoute(signedIn, {
  method: "delete",
  path: "/webhooks/{id}",
  operationId: "deleteWebhook",
  tags,
  summary: "Delete one of your webhook endpoints; what it was still owed is dropped",
  request: { params: IdParam },
  responses: { 204: { description: "Deleted" }, ...problems(400, 404, 503) },
});

export const deliveries = guardedRoute(signedIn, {
  method: "get",
  path: "/webhooks/{id}/deliveries",
  operationId: "listWebhookDeliveries",
  tags,
  summary: "The recent delivery attempts of one of your endpoints, newest first",
  request: { params: IdParam, query: PageQuery },
  responses: { 200: jsonResponse(DeliveryAttemptPageSchema, "A page of attempts"), ...problems(400, 404, 503) },
});
