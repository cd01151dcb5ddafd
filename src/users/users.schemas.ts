import { z } from "@hono/zod-openapi";
import { pageOf } from "../http/pagination.ts";

const byteLength = (s: string) => new TextEncoder().encode(s).length;

export const UserSchema = z.object({
  id: z.number().int().openapi({ example: 1 }),
  username: z.string().openapi({ example: "acme" }),
  email: z.string().openapi({ example: "exams@acme.example" }),
  is_admin: z.boolean(),
  date_joined: z.string().datetime().openapi({ example: "2027-01-01T09:00:00.000Z" }),
}).openapi("User");

export const UserPageSchema = pageOf(UserSchema, "UserPage");

const password = z.string()
  .refine((p) => byteLength(p) >= 8, "must be at least 8 bytes")
  .refine((p) => byteLength(p) <= 72, "must be at most 72 bytes (bcrypt's limit)");

export const RegisterSchema = z.object({
  username: z.string().trim().min(1).max(150).regex(/^[\w.@+-]+$/, "letters, digits and @/./+/-/_ only")
    .openapi({ example: "acme" }),
  email: z.string().trim().max(254).pipe(z.email()).openapi({ example: "exams@acme.example" }),
  password: password.openapi({ example: "correct horse battery" }),
  password2: z.string().openapi({ example: "correct horse battery" }),
}).refine((body) => body.password === body.password2, { path: ["password2"], message: "passwords do not match" })
  .openapi("Register");

export type User = z.infer<typeof UserSchema>;
