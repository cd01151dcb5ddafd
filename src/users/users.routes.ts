import { createRoute } from "@hono/zod-openapi";
import { bearerAuth, IdParam, jsonBody, jsonResponse, problems } from "../http/openapi.ts";
import { PageQuery } from "../http/pagination.ts";
import { requireAdmin, requireUser } from "../auth/guard.ts";
import { RegisterSchema, UserPageSchema, UserSchema } from "./users.schemas.ts";

const tags = ["users"];

export const register = createRoute({
  method: "post",
  path: "/users",
  tags,
  summary: "Register a customer",
  request: { body: jsonBody(RegisterSchema) },
  responses: { 201: jsonResponse(UserSchema, "The new user"), ...problems(400, 409, 429, 503) },
});

export const me = createRoute({
  method: "get",
  path: "/users/me",
  tags,
  summary: "The calling user",
  middleware: [requireUser] as const,
  security: bearerAuth,
  responses: { 200: jsonResponse(UserSchema, "You"), ...problems(401, 503) },
});

export const list = createRoute({
  method: "get",
  path: "/users",
  tags,
  summary: "Every user, oldest first (admin)",
  middleware: [requireUser, requireAdmin] as const,
  security: bearerAuth,
  request: { query: PageQuery },
  responses: { 200: jsonResponse(UserPageSchema, "A page of users"), ...problems(400, 401, 403, 503) },
});

export const get = createRoute({
  method: "get",
  path: "/users/{id}",
  tags,
  summary: "One user (yourself, or anyone for an admin)",
  middleware: [requireUser] as const,
  security: bearerAuth,
  request: { params: IdParam },
  responses: { 200: jsonResponse(UserSchema, "The user"), ...problems(400, 401, 403, 404, 503) },
});

export const remove = createRoute({
  method: "delete",
  path: "/users/{id}",
  tags,
  summary: "Delete a user with their reservations (yourself, or anyone for an admin)",
  middleware: [requireUser] as const,
  security: bearerAuth,
  request: { params: IdParam },
  responses: { 204: { description: "Deleted" }, ...problems(400, 401, 403, 404, 503) },
});
