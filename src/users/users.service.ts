import type { Sql } from "../platform/db.ts";
import { AppError } from "../http/problem.ts";
import { offsetOf, type Page } from "../http/pagination.ts";
import { releaseUserCapacity } from "../reservations/capacity.ts";
import { hashPassword, verifyPassword } from "../auth/passwords.ts";
import type { User } from "./users.schemas.ts";

type UserRow = Omit<User, "date_joined"> & { date_joined: Date };

const toUser = (row: UserRow): User => ({ ...row, date_joined: row.date_joined.toISOString() });

const uniqueViolation = "23505";

export async function createUser(
  sql: Sql,
  input: { username: string; email: string; passwordHash: string; isAdmin?: boolean },
): Promise<User> {
  try {
    const [row] = await sql<UserRow[]>`
      INSERT INTO users (username, email, password_hash, is_admin)
      VALUES (${input.username}, ${input.email}, ${input.passwordHash}, ${input.isAdmin ?? false})
      RETURNING id, username, email, is_admin, date_joined`;
    return toUser(row);
  } catch (error) {
    if ((error as { code?: string }).code === uniqueViolation) {
      throw new AppError("USER_EXISTS", "A user with this email or username already exists");
    }
    throw error;
  }
}

export async function findUserById(sql: Sql, id: number): Promise<User | undefined> {
  const [row] = await sql<UserRow[]>`SELECT id, username, email, is_admin, date_joined FROM users WHERE id = ${id}`;
  return row && toUser(row);
}

export async function findCredentials(sql: Sql, email: string) {
  const [row] = await sql<{ id: number; password_hash: string }[]>`
    SELECT id, password_hash FROM users WHERE lower(email) = lower(${email})`;
  return row;
}

export async function listUsers(sql: Sql, page: Page): Promise<{ count: number; users: User[] }> {
  const [{ count }] = await sql<{ count: number }[]>`SELECT count(*)::int AS count FROM users`;
  const rows = await sql<UserRow[]>`
    SELECT id, username, email, is_admin, date_joined FROM users
    ORDER BY date_joined, id LIMIT ${page.page_size} OFFSET ${offsetOf(page)}`;
  return { count, users: rows.map(toUser) };
}

/** Deletes a user with their reservations, giving their confirmed capacity back in the same transaction. */
export async function deleteUser(sql: Sql, id: number): Promise<boolean> {
  return await sql.begin(async (tx) => {
    const [user] = await tx`SELECT id FROM users WHERE id = ${id} FOR UPDATE`;
    if (!user) return false;
    await releaseUserCapacity(tx, id);
    await tx`DELETE FROM users WHERE id = ${id}`;
    return true;
  });
}

export type AdminBootstrap =
  | { outcome: "created" | "promoted" | "unchanged"; user: User }
  /** A non-admin account holds the email with another password: someone may have registered it first. */
  | { outcome: "squatted" };

/**
 * Makes sure the admin `email` exists: created when missing (with `password`), an existing admin left alone, an
 * existing non-admin promoted only if `password` is theirs. No password is ever changed. Safe when several
 * instances run it at once: the insert yields to a concurrent one, and each step is re-read, never assumed.
 */
export async function ensureAdmin(
  sql: Sql,
  { email, password, cost }: { email: string; password: string; cost: number },
): Promise<AdminBootstrap> {
  for (let attempt = 0; attempt < 3; attempt++) {
    const [found] = await sql<(UserRow & { password_hash: string })[]>`
      SELECT id, username, email, is_admin, date_joined, password_hash FROM users WHERE lower(email) = lower(${email})`;
    if (!found) {
      const created = await insertAdmin(sql, email, await hashPassword(password, cost));
      if (created) return { outcome: "created", user: created };
      continue; // another instance (or a registration) took the email or the username in between: look again
    }
    const { password_hash: passwordHash, ...existing } = found;
    if (existing.is_admin) return { outcome: "unchanged", user: toUser(existing) };
    if (!(await verifyPassword(password, passwordHash, cost))) return { outcome: "squatted" };
    // Only the account whose password was just checked, not one whose password changed meanwhile.
    const [promoted] = await sql<UserRow[]>`
      UPDATE users SET is_admin = true WHERE id = ${existing.id} AND password_hash = ${passwordHash}
      RETURNING id, username, email, is_admin, date_joined`;
    if (promoted) return { outcome: "promoted", user: toUser(promoted) };
  }
  throw new Error(`could not create or find the admin ${email}: the users table keeps changing under us`);
}

/** Inserts the admin unless the email or the username is taken by then (no unique-violation error either way). */
async function insertAdmin(sql: Sql, email: string, passwordHash: string): Promise<User | undefined> {
  const base = email.split("@")[0].replace(/[^\w.@+-]/g, "").slice(0, 140) || "admin";
  const suffixed = `${base}-${crypto.randomUUID().slice(0, 8)}`;
  const [row] = await sql<UserRow[]>`
    INSERT INTO users (username, email, password_hash, is_admin)
    SELECT CASE WHEN EXISTS (SELECT 1 FROM users WHERE lower(username) = lower(${base})) THEN ${suffixed} ELSE ${base} END,
      ${email}, ${passwordHash}, true
    ON CONFLICT DO NOTHING
    RETURNING id, username, email, is_admin, date_joined`;
  return row && toUser(row);
}
