import type { Sql } from "../platform/db.ts";
import { AppError } from "../http/problem.ts";
import { offsetOf, type Page } from "../http/pagination.ts";
import { releaseUserCapacity } from "../reservations/capacity.ts";
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

/** Makes sure an admin with this email exists: created when missing, promoted when not admin; a password is never changed. */
export async function ensureAdmin(sql: Sql, email: string, passwordHash: () => Promise<string>): Promise<User> {
  const [promoted] = await sql<UserRow[]>`
    UPDATE users SET is_admin = true WHERE lower(email) = lower(${email})
    RETURNING id, username, email, is_admin, date_joined`;
  if (promoted) return toUser(promoted);
  const base = email.split("@")[0].replace(/[^\w.@+-]/g, "").slice(0, 140) || "admin";
  const [{ taken }] = await sql<{ taken: boolean }[]>`
    SELECT EXISTS (SELECT 1 FROM users WHERE lower(username) = lower(${base})) AS taken`;
  const username = taken ? `${base}-${crypto.randomUUID().slice(0, 8)}` : base;
  return await createUser(sql, { username, email, passwordHash: await passwordHash(), isAdmin: true });
}
