import { z } from "@hono/zod-openapi";
import { Timestamp } from "../http/schemas.ts";
import type postgres from "postgres";
import { byteLength, fitsBcrypt } from "../platform/bcrypt-limit.ts";
import type { Sql, Tx } from "../platform/db.ts";

/** A user as every response shows them: never a password hash. */
export const UserSchema = z.object({
  id: z.number().int().openapi({ example: 2 }),
  username: z.string().openapi({ example: "acme" }),
  email: z.string().openapi({ example: "exams@acme.example" }),
  is_admin: z.boolean(),
  date_joined: Timestamp,
}).openapi("User", {
  example: {
    id: 2,
    username: "acme",
    email: "exams@acme.example",
    is_admin: false,
    date_joined: "2027-03-01T09:00:00.000Z",
  },
});

export type User = z.infer<typeof UserSchema>;

/** A user as a JSON subquery hands it over: `date_joined` in PostgreSQL's text form. */
export type UserJson = Omit<User, "date_joined"> & { date_joined: string };

/**
 * Who is making a request: the user id of their access token, known at once, and their user row, which costs no
 * round trip of its own: it is read on first use of `user`, alongside the request's own queries, or inside a
 * statement of the service's (`userQuery`, then `settle`). A write awaits the user before any effect.
 */
export type Caller = {
  id: number;
  readonly user: Promise<User>;
  /** The user as a JSON subquery, for a statement of the service's own; NULL once `user` is being read anyway. */
  userQuery(sql: Sql | Tx): postgres.Fragment;
  /** Takes what that subquery found, and answers as `user` would. */
  settle(found: UserJson | null): Promise<User>;
  /**
   * Whether a statement may read on the caller's behalf, over `found` (what `userQuery` found, in that statement): the
   * session is on, and the caller an admin where the route requires one. So the statement that reads the caller's row
   * reads nothing else for a caller the route refuses.
   */
  admits(sql: Sql | Tx, found: postgres.Fragment): postgres.Fragment;
};

const exampleToken = (type: string) => `eyJhbGciOiJIUzI1NiJ9.${btoa(`{"typ":"${type}"}`)}.c2lnbmF0dXJl`;

export const TokenPairSchema = z.object({
  access: z.string().openapi({ description: "Send it as `Authorization: Bearer <access>`" }),
  refresh: z.string().openapi({ description: "For `POST /api/v1/users/login/refresh/` once `access` expires" }),
  token_type: z.literal("Bearer"),
  expires_in: z.number().int().openapi({ description: "Access token lifetime in seconds", example: 900 }),
}).openapi("TokenPair", {
  example: { access: exampleToken("access"), refresh: exampleToken("refresh"), token_type: "Bearer", expires_in: 900 },
});

const bcryptLimit = "must be at most 72 bytes (bcrypt's limit)";

/** An email as registration takes it; login reads it the same way, so the lookup and the limiter agree. */
export const EmailSchema = z.string().trim().max(254).pipe(z.email());

/** A password to check: more than 72 bytes cannot be anyone's (bcrypt ignores whatever follows the 72nd). */
const GivenPasswordSchema = z.string().min(1).refine(fitsBcrypt, bcryptLimit);

/** A password a user chooses: 8–72 bytes. */
export const NewPasswordSchema = z.string()
  .refine((p) => byteLength(p) >= 8, "must be at least 8 bytes")
  .refine(fitsBcrypt, bcryptLimit);

/** A new password typed twice: the second field must repeat the first. */
export function typedTwice<T extends z.ZodObject>(schema: T, first: keyof z.infer<T>, second: keyof z.infer<T>) {
  return schema.refine((body) => body[first] === body[second], {
    path: [second as string],
    message: "passwords do not match",
  });
}

export const LoginSchema = z.object({
  email: EmailSchema,
  password: GivenPasswordSchema,
}).openapi("Login", { example: { email: "exams@acme.example", password: "correct horse battery" } });

export const ChangePasswordSchema = typedTwice(
  z.object({
    current_password: GivenPasswordSchema,
    new_password: NewPasswordSchema,
    new_password2: z.string(),
  }),
  "new_password",
  "new_password2",
).openapi("ChangePassword", {
  example: {
    current_password: "correct horse battery",
    new_password: "staple battery horse",
    new_password2: "staple battery horse",
  },
});

export const RefreshSchema = z.object({ refresh: z.string().min(1).max(4096) })
  .openapi("Refresh", { example: { refresh: "eyJhbGciOiJIUzI1NiJ9.eyJ0eXAiOiJyZWZyZXNoIn0.c2lnbmF0dXJl" } });
