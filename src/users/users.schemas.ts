import { z } from "@hono/zod-openapi";
import { pageOf } from "../http/pagination.ts";
import { EmailSchema, NewPasswordSchema, typedTwice, UserSchema } from "../auth/auth.schemas.ts";

export const UserPageSchema = pageOf(UserSchema, "UserPage");

export const RegisterSchema = typedTwice(
  z.object({
    username: z.string().trim().min(1).max(150).regex(/^[\w.@+-]+$/, "letters, digits and @/./+/-/_ only"),
    email: EmailSchema,
    password: NewPasswordSchema,
    password2: z.string(),
  }),
  "password",
  "password2",
).openapi("Register", {
  example: {
    username: "acme",
    email: "exams@acme.example",
    password: "correct horse battery",
    password2: "correct horse battery",
  },
});

export type Registration = z.infer<typeof RegisterSchema>;
