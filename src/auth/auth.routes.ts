import { createRoute } from "@hono/zod-openapi";
import { guardedRoute, jsonBody, jsonResponse, problems } from "../http/openapi.ts";
import { signedIn } from "./guard.ts";
import { ChangePasswordSchema, LoginSchema, RefreshSchema, TokenPairSchema } from "./auth.schemas.ts";

const tags = ["auth"];

export const login = createRoute({
  method: "post",
  path: "/users/login",
  operationId: "loginUser",
  tags,
  summary: "Log in with email and password",
  request: { body: jsonBody(LoginSchema) },
  responses: { 200: jsonResponse(TokenPairSchema, "Access and refresh tokens"), ...problems(400, 401, 429, 503) },
});

export const refresh = createRoute({
  method: "post",
  path: "/users/login/refresh",
  operationId: "refreshToken",
  tags,
  summary: "Trade a refresh token for a new pair (the old one is spent)",
  request: { body: jsonBody(RefreshSchema) },
  responses: { 200: jsonResponse(TokenPairSchema, "A new token pair"), ...problems(400, 401, 503) },
});

export const logout = guardedRoute(signedIn, {
  method: "post",
  path: "/users/logout",
  operationId: "logoutUser",
  tags,
  summary: "Revoke one of your refresh tokens",
  request: { body: jsonBody(RefreshSchema) },
  responses: { 204: { description: "Logged out" }, ...problems(400, 503) },
});

export const changePassword = guardedRoute(signedIn, {
  method: "post",
  path: "/users/me/password",
  operationId: "changePassword",
  tags,
  summary: "Change your password; every session of yours ends",
  request: { body: jsonBody(ChangePasswordSchema) },
  responses: { 204: { description: "Changed; log in again" }, ...problems(400, 429, 503) },
});

export const logoutAll = guardedRoute(signedIn, {
  method: "post",
  path: "/users/logout-all",
  operationId: "logoutAllSessions",
  tags,
  summary: "End every session of yours: all your refresh and access tokens stop working",
  responses: { 204: { description: "Logged out everywhere" }, ...problems(503) },
});
