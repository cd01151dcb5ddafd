import type { Deps } from "../deps.ts";
import { isUniqueViolation } from "../platform/db.ts";
import { AppError } from "../http/problem.ts";
import { offsetOf, type Page } from "../http/pagination.ts";
import type { Caller, User } from "../auth/auth.schemas.ts";
import { findUserById, toUser, userColumns, type UserRow } from "../auth/auth.service.ts";
import { hashPassword } from "../auth/passwords.ts";
import { takeRegistrationAttempt } from "../auth/rate-limits.ts";
import { releaseUserCapacity } from "../reservations/capacity.ts";
import type { Registration } from "./users.schemas.ts";

type UsersDeps = Pick<Deps, "sql" | "config">;

/** A customer may only address themselves: any other id, existing or not, is 403. */
function assertSelfOrAdmin(caller: Caller, id: number) {
  if (!caller.is_admin && caller.id !== id) throw new AppError("FORBIDDEN", "You may only access your own account");
}

export async function createUser(
  { sql }: Pick<Deps, "sql">,
  input: { username: string; email: string; passwordHash: string; isAdmin?: boolean },
): Promise<User> {
  try {
    const [row] = await sql<UserRow[]>`
      INSERT INTO users (username, email, password_hash, is_admin)
      VALUES (${input.username}, ${input.email}, ${input.passwordHash}, ${input.isAdmin ?? false})
      RETURNING ${userColumns(sql)}`;
    return toUser(row);
  } catch (error) {
    if (isUniqueViolation(error)) {
      throw new AppError("USER_EXISTS", "A user with this email or username already exists");
    }
    throw error;
  }
}

/** A new customer; registrations count per client address (none for an in-process call). */
export async function registerUser(
  deps: Pick<Deps, "sql" | "config" | "cache">,
  client: { address?: string },
  { username, email, password }: Registration,
): Promise<User> {
  const { config, cache } = deps;
  await takeRegistrationAttempt(cache, client.address, config.REGISTER_LIMIT);
  return await createUser(deps, { username, email, passwordHash: await hashPassword(password, config.BCRYPT_COST) });
}

export async function listUsers({ sql }: UsersDeps, _caller: Caller, page: Page) {
  const [{ count }] = await sql<{ count: number }[]>`SELECT count(*)::int AS count FROM users`;
  const rows = await sql<UserRow[]>`
    SELECT ${userColumns(sql)} FROM users
    ORDER BY date_joined, id LIMIT ${page.page_size} OFFSET ${offsetOf(page)}`;
  return { count, users: rows.map(toUser) };
}

export async function getUser(deps: UsersDeps, caller: Caller, id: number): Promise<User> {
  assertSelfOrAdmin(caller, id);
  const user = await findUserById(deps, id);
  if (!user) throw new AppError("NOT_FOUND", "No such user");
  return user;
}

/** Deletes a user with their reservations, giving their confirmed capacity back in the same transaction. */
export async function deleteUser({ sql }: UsersDeps, caller: Caller, id: number): Promise<void> {
  assertSelfOrAdmin(caller, id);
  const deleted = await sql.begin(async (tx) => {
    const [user] = await tx`SELECT id FROM users WHERE id = ${id} FOR UPDATE`;
    if (!user) return false;
    await releaseUserCapacity(tx, id);
    await tx`DELETE FROM users WHERE id = ${id}`;
    return true;
  });
  if (!deleted) throw new AppError("NOT_FOUND", "No such user");
}

/** Makes sure an admin with this email exists: created when missing, promoted when not admin; a password is never changed. */
export async function ensureAdmin(deps: Pick<Deps, "sql">, email: string, passwordHash: () => Promise<string>) {
  const { sql } = deps;
  const [promoted] = await sql<UserRow[]>`
    UPDATE users SET is_admin = true WHERE lower(email) = lower(${email})
    RETURNING ${userColumns(sql)}`;
  if (promoted) return toUser(promoted);
  const base = email.split("@")[0].replace(/[^\w.@+-]/g, "").slice(0, 140) || "admin";
  const [{ taken }] = await sql<{ taken: boolean }[]>`
    SELECT EXISTS (SELECT 1 FROM users WHERE lower(username) = lower(${base})) AS taken`;
  const username = taken ? `${base}-${crypto.randomUUID().slice(0, 8)}` : base;
  return await createUser(deps, { username, email, passwordHash: await passwordHash(), isAdmin: true });
}
