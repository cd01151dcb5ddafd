import { z } from "@hono/zod-openapi";
import { Timestamp } from "../http/schemas.ts";

/** A user as every response shows them: never a password hash. */
export const UserSchema = z.object({
  id: z.number().int().openapi({ example: 1 }),
  username: z.string().openapi({ example: "acme" }),
  email: z.string().openapi({ example: "exams@acme.example" }),
  is_admin: z.boolean(),
  date_joined: Timestamp,
}).openapi("User");

export type User = z.infer<typeof UserSchema>;

/**
 * Who is making a request: the user id of their access token, known at once, and their user row, read alongside
 * the request's own queries so it costs no round trip of its own. A write awaits `user` before any effect.
 */
export type Caller = { id: number; user: Promise<User> };

export const TokenPairSchema = z.object({
  access: z.string(),
  refresh: z.string(),
  token_type: z.literal("Bearer"),
  expires_in: z.number().int().openapi({ description: "Access token lifetime in seconds", example: 900 }),
}).openapi("TokenPair");

export const LoginSchema = z.object({
  email: z.string().trim().min(1).max(254),
  password: z.string().min(1).max(1024),
}).openapi("Login", { example: { email: "exams@acme.example", password: "correct horse battery" } });

export const RefreshSchema = z.object({ refresh: z.string().min(1).max(4096) })
  .openapi("Refresh", { example: { refresh: "eyJhbGciOiJIUzI1NiJ9.eyJ0eXAiOiJyZWZyZXNoIn0.c2lnbmF0dXJl" } });
