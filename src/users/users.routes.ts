import { createRoute } from "@hono/zod-openapi";
import { guardedRoute, jsonBody, jsonResponse, problems } from "../http/openapi.ts";
import { PageQuery } from "../http/pagination.ts";
import { IdParam } from "../http/schemas.ts";
import { UserSchema } from "../auth/auth.schemas.ts";
import { adminOnly, signedIn } from "../auth/guard.ts";
import { idempotencyKeyParameter, idempotent } from "../idempotency/idempotency.ts";
import { RegisterSchema, UserPageSchema } from "./users.schemas.ts";

const tags = ["users"];

export const register = createRoute({
  method: "post",
  path: "/users",
  operationId: "registerUser",
  tags,
  summary: "Register a customer",
  middleware: [idempotent],
  parameters: [idempotencyKeyParameter],
  request: { body: jsonBody(RegisterSchema) },
  responses: { 201: jsonResponse(UserSchema, "The new user"), ...problems(400, 409, 422, 429, 503) },
});

export const me = guardedRoute(signedIn, {
  method: "get",
  path: "/users/me",
  operationId: "getCurrentUser",
  tags,
  summary: "The calling user",
  responses: { 200: jsonResponse(UserSchema, "You"), ...problems(503) },
});

export const list = guardedRoute(adminOnly, {
  method: "get",
  path: "/users",
  operationId: "listUsers",
  tags,
  summary: "Every user, oldest first (admin)",
  request: { query: PageQuery },
  responses: { 200: jsonResponse(UserPageSchema, "A page of users"), ...problems(400, 503) },
});

export const get = guardedRoute(signedIn, {
  method: "get",
  path: "/users/{id}",
  operationId: "getUser",
  tags,
  summary: "One user (yourself, or anyone for an admin)",
  request: { params: IdParam },
  responses: { 200: jsonResponse(UserSchema, "The user"), ...problems(400, 403, 404, 503) },
});

export const remove = guardedRoute(signedIn, {
  method: "delete",
  path: "/users/{id}",
  operationId: "deleteUser",
  tags,
  summary: "Delete a user with their reservations (yourself, or anyone for an admin)",
  request: { params: IdParam },
  responses: { 204: { description: "Deleted" }, ...problems(400, 403, 404, 503) },
});
