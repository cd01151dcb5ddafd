import { createRoute, z } from "@hono/zod-openapi";
import { requireUser } from "./guard.ts";
import { bearerAuth, jsonBody, jsonResponse, problems } from "../http/openapi.ts";

const TokenPairSchema = z.object({
  access: z.string(),
  refresh: z.string(),
  token_type: z.literal("Bearer"),
  expires_in: z.number().int().openapi({ description: "Access token lifetime in seconds", example: 900 }),
}).openapi("TokenPair");

const LoginSchema = z.object({
  email: z.string().trim().min(1).max(254).openapi({ example: "exams@acme.example" }),
  password: z.string().min(1).max(1024).openapi({ example: "correct horse battery" }),
}).openapi("Login");

const RefreshSchema = z.object({ refresh: z.string().min(1).max(4096) }).openapi("Refresh");

const tags = ["auth"];

export const login = createRoute({
  method: "post",
  path: "/users/login",
  tags,
  summary: "Log in with email and password",
  request: { body: jsonBody(LoginSchema) },
  responses: { 200: jsonResponse(TokenPairSchema, "Access and refresh tokens"), ...problems(400, 401, 429, 503) },
});

export const refresh = createRoute({
  method: "post",
  path: "/users/login/refresh",
  tags,
  summary: "Trade a refresh token for a new pair (the old one is spent)",
  request: { body: jsonBody(RefreshSchema) },
  responses: { 200: jsonResponse(TokenPairSchema, "A new token pair"), ...problems(400, 401, 503) },
});

export const logout = createRoute({
  method: "post",
  path: "/users/logout",
  tags,
  summary: "Revoke one of your refresh tokens",
  middleware: [requireUser] as const,
  security: bearerAuth,
  request: { body: jsonBody(RefreshSchema) },
  responses: { 204: { description: "Logged out" }, ...problems(400, 401, 503) },
});
