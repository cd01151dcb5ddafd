import type { Deps } from "../deps.ts";
import { AppError } from "../http/problem.ts";
import type { Sql } from "../platform/db.ts";
import type { Caller, User } from "./auth.schemas.ts";
import { verifyPassword } from "./passwords.ts";
import { returnLoginAttempt, takeLoginAttempt } from "./rate-limits.ts";
import { issueTokens, readRefreshToken, revokeRefreshToken, spendRefreshToken, type TokenPair } from "./tokens.ts";

type AuthDeps = Pick<Deps, "sql" | "cache" | "config" | "clock">;

export type UserRow = Omit<User, "date_joined"> & { date_joined: Date };

export const toUser = (row: UserRow): User => ({ ...row, date_joined: row.date_joined.toISOString() });

/** The columns of a user that responses show. */
export const userColumns = (sql: Sql) => sql`id, username, email, is_admin, date_joined`;

export async function findUserById({ sql }: Pick<Deps, "sql">, id: number): Promise<User | undefined> {
  const [row] = await sql<UserRow[]>`SELECT ${userColumns(sql)} FROM users WHERE id = ${id}`;
  return row && toUser(row);
}

export async function findCredentials({ sql }: Pick<Deps, "sql">, email: string) {
  const [row] = await sql<{ id: number; password_hash: string }[]>`
    SELECT id, password_hash FROM users WHERE lower(email) = lower(${email})`;
  return row;
}

/** A token pair for a right email and password; wrong ones count towards the failed-login limit. */
export async function logIn(deps: AuthDeps, { email, password }: { email: string; password: string }) {
  const { cache, config } = deps;
  await takeLoginAttempt(cache, config, email);
  const credentials = await findCredentials(deps, email);
  if (!(await verifyPassword(password, credentials?.password_hash, config.BCRYPT_COST))) {
    throw new AppError("INVALID_CREDENTIALS", "Wrong email or password");
  }
  await returnLoginAttempt(cache, email);
  return await issueTokens(deps, credentials.id);
}

/** Spends a refresh token for a new pair in the same session; the user must still exist. */
export async function refreshSession(deps: AuthDeps, refreshToken: string): Promise<TokenPair> {
  const claims = await readRefreshToken(deps, refreshToken);
  await spendRefreshToken(deps, claims);
  const user = await findUserById(deps, Number(claims.sub));
  if (!user) throw new AppError("UNAUTHENTICATED", "The user no longer exists");
  return await issueTokens(deps, user.id, claims.fam);
}

/** Ends the session of one of the caller's own refresh tokens. */
export async function logOut(deps: AuthDeps, caller: Caller, refreshToken: string): Promise<void> {
  const claims = await readRefreshToken(deps, refreshToken);
  await caller.user;
  if (Number(claims.sub) !== caller.id) throw new AppError("UNAUTHENTICATED", "Not one of your refresh tokens");
  await spendRefreshToken(deps, claims);
  await revokeRefreshToken(deps, claims);
}
