import type { Deps } from "../deps.ts";
import { isUniqueViolation, type Sql } from "../platform/db.ts";
import { AppError } from "../http/problem.ts";
import { type Page, withTotal } from "../http/pagination.ts";
import type { Caller, User } from "../auth/auth.schemas.ts";
import { findUserById, hashingFor, toUser, userColumns, type UserRow } from "../auth/auth.service.ts";
import { hashPassword, verifyPassword } from "../auth/passwords.ts";
import { takeRegistrationAttempt } from "../auth/rate-limits.ts";
import { eventInsert } from "../reservations/history.ts";
import { written } from "../reservations/reservation.ts";
import { type KeyedRequest, keyInUse, keyTaken, lockKey, outcomeInsert } from "../idempotency/idempotency.service.ts";
import type { Registration } from "./users.schemas.ts";

type UsersDeps = Pick<Deps, "sql" | "config" | "clock">;

/** A customer may only address themselves: any other id, existing or not, is 403. */
function assertSelfOrAdmin(user: User, id: number) {
  if (!user.is_admin && user.id !== id) throw new AppError("FORBIDDEN", "You may only access your own account");
}

/**
 * Inserts a user; with an Idempotency-Key, its outcome is stored in the same statement (the body gets the id the
 * database assigns), and a key another request is still running with is refused.
 */
export async function createUser(
  { sql, clock }: Pick<Deps, "sql" | "clock">,
  input: { username: string; email: string; passwordHash: string; isAdmin?: boolean },
  key?: KeyedRequest,
): Promise<User> {
  const now = clock();
  const isAdmin = input.isAdmin ?? false;
  const template = toUser({ id: 0, username: input.username, email: input.email, is_admin: isAdmin, date_joined: now });
  const outcome = key
    ? sql`, outcome AS (${
      outcomeInsert(sql, key, now, {
        status: 201,
        headers: sql`${sql.json({ "Content-Type": "application/json" })}::jsonb`,
        body: sql`jsonb_set(${sql.json(template)}::jsonb, '{id}', to_jsonb(created.id))`,
        from: sql`FROM created`,
      })
    })`
    : sql``;
  try {
    const [row] = await sql<(UserRow & { key_free: boolean })[]>`
      WITH key AS MATERIALIZED (SELECT ${key ? lockKey(sql, key) : sql`true`} AS free), created AS (
        INSERT INTO users (username, email, password_hash, is_admin, date_joined)
        SELECT ${input.username}, ${input.email}, ${input.passwordHash}, ${isAdmin}, ${now} FROM key WHERE key.free
        RETURNING ${userColumns(sql)}
      )${outcome}
      SELECT created.*, key.free AS key_free FROM key LEFT JOIN created ON true`;
    const { key_free, ...user } = row;
    if (!key_free) throw keyInUse();
    return toUser(user);
  } catch (error) {
    if (isUniqueViolation(error, "idempotency_keys_pkey")) keyTaken(error);
    if (isUniqueViolation(error)) {
      throw new AppError("USER_EXISTS", "A user with this email or username already exists");
    }
    throw error;
  }
}

/** A new customer; registrations count per client address (none for an in-process call). */
export function registerUser(
  deps: Pick<Deps, "sql" | "config" | "cache" | "clock">,
  client: { address?: string; idempotency?: KeyedRequest },
  { username, email, password }: Registration,
): Promise<User> {
  const { config } = deps;
  return hashingFor(deps, client, async () => {
    await takeRegistrationAttempt(deps, client.address, config.REGISTER_LIMIT);
    const passwordHash = await hashPassword(password, config.BCRYPT_COST);
    return await createUser(deps, { username, email, passwordHash }, client.idempotency);
  });
}

/** Oldest first; the total and the page in one statement. */
export async function listUsers({ sql }: UsersDeps, _admin: Caller, page: Page) {
  const rows = await sql<(UserRow & { total: number })[]>`
    ${withTotal(sql, sql`SELECT ${userColumns(sql)} FROM users`, sql`ORDER BY date_joined, id`, page)}`;
  return {
    count: rows[0].total,
    users: rows.filter((row) => row.id !== null).map(({ total: _, ...row }) => toUser(row)),
  };
}

export async function getUser(deps: UsersDeps, caller: Caller, id: number): Promise<User> {
  const [user, found] = await Promise.all([caller.user, findUserById(deps, id)]);
  assertSelfOrAdmin(user, id);
  if (!found) throw new AppError("NOT_FOUND", "No such user");
  return found;
}

/** Deletes a user with their reservations; the database gives their confirmed capacity back at COMMIT. */
export async function deleteUser(
  { sql, clock }: UsersDeps,
  caller: Caller,
  id: number,
  write: { requestId: string },
): Promise<void> {
  const actor = await caller.user;
  assertSelfOrAdmin(actor, id);
  const deleted = await sql.begin(async (tx) => {
    // Reservations before their user, the order every change of a reservation takes them in (the pending count).
    await tx`SELECT id FROM reservations WHERE user_id = ${id} ORDER BY id FOR UPDATE`;
    const [user] = await tx`SELECT id FROM users WHERE id = ${id} FOR UPDATE`;
    if (!user) return false;
    const released = { action: "released", at: clock(), actorId: actor.id, requestId: write.requestId } as const;
    await tx`${
      eventInsert(tx, released, tx`(SELECT ${written(tx, tx`r`)} FROM reservations r WHERE r.user_id = ${id})`)
    }`;
    await tx`DELETE FROM users WHERE id = ${id}`;
    return true;
  });
  if (!deleted) throw new AppError("NOT_FOUND", "No such user");
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
  { sql }: Pick<Deps, "sql">,
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
