import type { Deps } from "../deps.ts";
import { AppError, fieldErrors } from "../http/problem.ts";
import type { Sql, Tx } from "../platform/db.ts";
import type { Caller, User } from "./auth.schemas.ts";
import { hashPassword, needsRehash, verifyPassword } from "./passwords.ts";
import { type LoginAttempt, takeLoginAttempt, withHashingPlace } from "./rate-limits.ts";
import {
  endSession,
  issueTokens,
  readRefreshToken,
  rotateTokens,
  type Session,
  sessionOf,
  type TokenPair,
} from "./tokens.ts";

type AuthDeps = Pick<Deps, "sql" | "cache" | "config" | "clock">;

/** Where a request comes from; `address` is undefined for an in-process call. */
export type Client = { address?: string };

export type UserRow = Omit<User, "date_joined"> & { date_joined: Date };

export const toUser = (row: UserRow): User => ({ ...row, date_joined: row.date_joined.toISOString() });

/** The columns of a user that responses show. */
export const userColumns = (sql: Sql | Tx) => sql`id, username, email, is_admin, date_joined`;

export async function findUserById({ sql }: Pick<Deps, "sql">, id: number): Promise<User | undefined> {
  const [row] = await sql<UserRow[]>`SELECT ${userColumns(sql)} FROM users WHERE id = ${id}`;
  return row && toUser(row);
}

/**
 * The user of a session that is still on: the user exists and has not ended their sessions (password change,
 * logout-all) since this one began. One read, so the guard costs no more than a plain user lookup.
 */
const sessionUser = (sql: Sql | Tx, session: Session) =>
  sql`
    SELECT ${userColumns(sql)} FROM users
    WHERE id = ${session.userId}
      AND (sessions_valid_after IS NULL OR sessions_valid_after < ${session.startedAt})`;

export async function findSessionUser({ sql }: Pick<Deps, "sql">, session: Session): Promise<User | undefined> {
  const [row] = await sql<UserRow[]>`${sessionUser(sql, session)}`;
  return row && toUser(row);
}

/** The same read as a subquery of another statement: the user as JSON, or NULL. */
export const sessionUserJson = (sql: Sql | Tx, session: Session) =>
  sql`(SELECT row_to_json(u) FROM (${sessionUser(sql, session)}) u)`;

export async function findCredentials({ sql }: Pick<Deps, "sql">, email: string) {
  const [row] = await sql<{ id: number; password_hash: string; sessions_valid_after: Date | null }[]>`
    SELECT id, password_hash, sessions_valid_after FROM users WHERE lower(email) = lower(${email})`;
  return row;
}

type Credentials = { id: number; password_hash: string };

/**
 * The account whose password this is, with its attempt, or undefined. The attempt counts under the login limits
 * before the account is even looked up, so past a limit it costs no query and no hashing. It counts as a failure
 * until the caller says it succeeded, which it does alongside its next step: with the cache silent, each of those
 * calls waits out its timeout, and a login must not add them up.
 */
async function checkPassword<T extends Credentials>(
  deps: AuthDeps,
  client: Client,
  { email, password }: { email: string; password: string },
  lookUp: () => Promise<T | undefined>,
): Promise<{ account: T; attempt: LoginAttempt } | undefined> {
  const attempt = await takeLoginAttempt(deps, email, client.address);
  try {
    const account = await lookUp();
    const right = await verifyPassword(password, account?.password_hash, deps.config.BCRYPT_COST);
    return right ? { account: account!, attempt } : undefined;
  } catch (error) {
    // A password never checked (the hashing queue full, the database down) is no failed guess.
    await attempt.withdraw();
    throw error;
  }
}

/** Runs `work`, which hashes passwords for `client`, in one of the client's PASSWORD_HASHES_PER_ADDRESS places. */
export const hashingFor = <T>({ config }: Pick<Deps, "config">, client: Client, work: () => Promise<T>) =>
  withHashingPlace(config.PASSWORD_HASHES_PER_ADDRESS, client.address, work);

/** Brings a hash made at another BCRYPT_COST to the current one, so no account answers at another speed. */
async function rehashIfNeeded({ sql, config }: AuthDeps, account: Credentials, password: string) {
  if (!needsRehash(account.password_hash, config.BCRYPT_COST)) return;
  // Best effort: with the hashing queue full the login still succeeds, and the next one rehashes.
  const rehashed = await hashPassword(password, config.BCRYPT_COST).catch((error) => {
    if (error instanceof AppError && error.code === "SERVICE_UNAVAILABLE") return undefined;
    throw error;
  });
  if (!rehashed) return;
  await sql`UPDATE users SET password_hash = ${rehashed}
    WHERE id = ${account.id} AND password_hash = ${account.password_hash}`;
}

/** A token pair for a right email and password. */
export function logIn(deps: AuthDeps, client: Client, login: { email: string; password: string }) {
  return hashingFor(deps, client, async () => {
    const checked = await checkPassword(deps, client, login, () => findCredentials(deps, login.email));
    if (!checked) throw new AppError("INVALID_CREDENTIALS", "Wrong email or password");
    const { account, attempt } = checked;
    await rehashIfNeeded(deps, account, login.password);
    const [tokens] = await Promise.all([
      issueTokens(deps, account.id, account.sessions_valid_after),
      attempt.succeeded(),
    ]);
    return tokens;
  });
}

/** Spends a refresh token for a new pair in the same session; the session must still be on. */
export async function refreshSession(deps: AuthDeps, refreshToken: string): Promise<TokenPair> {
  const claims = await readRefreshToken(deps, refreshToken);
  if (!(await findSessionUser(deps, sessionOf(claims)))) {
    throw new AppError("UNAUTHENTICATED", "The session has ended or its user no longer exists");
  }
  return await rotateTokens(deps, claims);
}

/** Ends the session of one of the caller's own refresh tokens. */
export async function logOut(deps: AuthDeps, caller: Caller, refreshToken: string): Promise<void> {
  const claims = await readRefreshToken(deps, refreshToken);
  await caller.user;
  if (Number(claims.sub) !== caller.id) throw new AppError("UNAUTHENTICATED", "Not one of your refresh tokens");
  await endSession(deps, claims);
}

/** Ends every session of the caller: tokens issued before now are refused, refresh and access alike. */
export async function logOutEverywhere({ sql, clock }: AuthDeps, caller: Caller): Promise<void> {
  await caller.user;
  await sql`UPDATE users SET sessions_valid_after = ${clock()} WHERE id = ${caller.id}`;
}

/** Changes the caller's password, which ends every session of theirs; the current password must be given. */
export function updatePassword(
  deps: AuthDeps,
  caller: Caller,
  client: Client,
  { current_password, new_password }: { current_password: string; new_password: string },
): Promise<void> {
  const { sql, clock, config } = deps;
  return hashingFor(deps, client, async () => {
    const [, [account]] = await Promise.all([
      caller.user,
      sql<(Credentials & { email: string })[]>`SELECT id, email, password_hash FROM users WHERE id = ${caller.id}`,
    ]);
    if (!account) throw new AppError("UNAUTHENTICATED", "The user no longer exists");
    // Checked like a login, limits included: a stolen access token is no way to guess the password at leisure.
    const current = { email: account.email, password: current_password };
    const checked = await checkPassword(deps, client, current, () => Promise.resolve(account));
    if (!checked) throw fieldErrors([{ path: "current_password", message: "is not your current password" }]);
    const hash = await hashPassword(new_password, config.BCRYPT_COST);
    await Promise.all([
      sql`UPDATE users SET password_hash = ${hash}, sessions_valid_after = ${clock()} WHERE id = ${caller.id}`,
      checked.attempt.succeeded(),
    ]);
  });
}
