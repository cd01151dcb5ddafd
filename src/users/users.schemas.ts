import { z } from "@hono/zod-openapi";
import { pageOf } from "../http/pagination.ts";
import { UserSchema } from "../auth/auth.schemas.ts";

const byteLength = (s: string) => new TextEncoder().encode(s).length;

export const UserPageSchema = pageOf(UserSchema, "UserPage");

const password = z.string()
  .refine((p) => byteLength(p) >= 8, "must be at least 8 bytes")
  .refine((p) => byteLength(p) <= 72, "must be at most 72 bytes (bcrypt's limit)");

export const RegisterSchema = z.object({
  username: z.string().trim().min(1).max(150).regex(/^[\w.@+-]+$/, "letters, digits and @/./+/-/_ only"),
  email: z.string().trim().max(254).pipe(z.email()),
  password,
  password2: z.string(),
}).refine((body) => body.password === body.password2, { path: ["password2"], message: "passwords do not match" })
  .openapi("Register", {
    example: {
      username: "acme",
      email: "exams@acme.example",
      password: "correct horse battery",
      password2: "correct horse battery",
    },
  });

export type Registration = z.infer<typeof RegisterSchema>;
