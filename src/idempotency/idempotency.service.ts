import type postgres from "postgres";
import type { Deps } from "../deps.ts";
import { AppError } from "../http/problem.ts";
import { isUniqueViolation, type Sql, type Tx } from "../platform/db.ts";
import { dayMs } from "../platform/clock.ts";
import type { Caller, UserJson } from "../auth/auth.schemas.ts";

/** A request sent with an Idempotency-Key: whose key it is, the key, and what the request was. */
export type KeyedRequest = { scope: string; key: string; fingerprint: string };

export type Outcome = { fingerprint: string; status: number; headers: Record<string, string>; body: unknown };

/** The contract keeps keys at least 24 h. */
const keptMs = dayMs;
// Expired keys are purged by the writes themselves, a few at a time, so no separate job has to exist.
const purgedPerLookup = 100;

/**
 * What the lookup found: the key's stored outcome, if any, the scope's live keys with the earliest expiry, and the
 * caller's user as the session read found it (for `Caller.settle`).
 */
export type Lookup = { outcome?: Outcome; liveKeys: number; oldestExpiry: Date | null; caller: UserJson | null };

/**
 * The stored outcome of this key, if any, and how many keys its scope holds; expired keys (this one included) go first.
 * The caller's session read is the same statement, and nothing else of it runs for a caller the route refuses (an
 * admin's route, a customer's token): no key is purged or read on their behalf.
 */
export async function findOutcome(
  { sql, clock }: Pick<Deps, "sql" | "clock">,
  request: KeyedRequest,
  caller: Caller | undefined,
): Promise<Lookup> {
  const now = clock();
  const [row] = await sql<
    (Partial<Outcome> & Omit<Lookup, "outcome"> & { live_keys: number; oldest_expiry: Date | null })[]
  >`
    WITH caller AS MATERIALIZED (
      SELECT ${caller ? caller.userQuery(sql) : sql`NULL::json`} AS found
    ), admitted AS MATERIALIZED (
      SELECT ${caller ? caller.admits(sql, sql`found`) : sql`true`} AS ok FROM caller
    ), purged AS (
      DELETE FROM idempotency_keys
      WHERE (SELECT ok FROM admitted) AND expires_at < ${now}
        AND (ctid = ANY (ARRAY(SELECT ctid FROM idempotency_keys WHERE expires_at < ${now} LIMIT ${purgedPerLookup}))
          OR (scope = ${request.scope} AND key = ${request.key}))
    ), live AS (
      SELECT count(*)::int AS live_keys, min(expires_at) AS oldest_expiry FROM idempotency_keys
      WHERE (SELECT ok FROM admitted) AND scope = ${request.scope} AND expires_at >= ${now}
    )
    SELECT (SELECT found FROM caller) AS caller, live.*, k.fingerprint, k.status, k.headers, k.body FROM live
    LEFT JOIN idempotency_keys k
      ON (SELECT ok FROM admitted) AND k.scope = ${request.scope} AND k.key = ${request.key} AND k.expires_at >= ${now}`;
  const { live_keys, oldest_expiry, caller: found, ...outcome } = row;
  return {
    outcome: outcome.fingerprint === null ? undefined : outcome as Outcome,
    liveKeys: live_keys,
    oldestExpiry: oldest_expiry,
    caller: found,
  };
}

/** True when no other transaction is running a request with this key; held until this transaction ends. */
export const lockKey = (sql: Sql | Tx, request: KeyedRequest) =>
  sql`pg_try_advisory_xact_lock(hashtextextended(${`${request.scope}\n${request.key}`}, 0))`;

/**
 * The INSERT that stores an outcome, for the statement or transaction of the effect itself; `from` names the rows it
 * is built from (e.g. a data-modifying CTE), so the body may be SQL over them.
 */
export function outcomeInsert(
  sql: Sql | Tx,
  request: KeyedRequest,
  now: Date,
  outcome: { status: number; headers: postgres.Fragment; body: postgres.Fragment; from?: postgres.Fragment },
) {
  return sql`
    INSERT INTO idempotency_keys (scope, key, fingerprint, status, headers, body, created_at, expires_at)
    SELECT ${request.scope}, ${request.key}, ${request.fingerprint}, ${outcome.status}, ${outcome.headers},
      ${outcome.body}, ${now}, ${new Date(now.getTime() + keptMs)}
    ${outcome.from ?? sql``}`;
}

/**
 * Stores a 404/409 outcome: it has no effect to share a transaction with. False when a racing twin stored the key's
 * outcome first: this problem (e.g. "not pending" after the twin's confirm) is then not the key's outcome.
 */
export async function storeProblem(
  { sql, clock }: Pick<Deps, "sql" | "clock">,
  request: KeyedRequest,
  problem: { status: number; body: unknown },
): Promise<boolean> {
  const stored = await sql`${
    outcomeInsert(sql, request, clock(), {
      status: problem.status,
      headers: sql`${sql.json({ "Content-Type": "application/problem+json" })}::jsonb`,
      body: sql`${sql.json(problem.body as postgres.JSONValue)}::jsonb`,
    })
  } ON CONFLICT DO NOTHING`;
  return stored.count === 1;
}

/**
 * Two requests with one key that both passed the lookup: the later one's outcome collides with the earlier's, its
 * whole transaction rolls back, and it is told to retry, which then replays.
 */
export function keyTaken(error: unknown): never {
  if (isUniqueViolation(error, "idempotency_keys_pkey")) throw keyJustUsed();
  throw error;
}

/** Another request with this key finished while this one ran: a retry replays its outcome. */
export const keyJustUsed = () =>
  new AppError("IDEMPOTENCY_KEY_IN_USE", "A request with this Idempotency-Key just finished; retry to see it");

export const keyInUse = () =>
  new AppError("IDEMPOTENCY_KEY_IN_USE", "A request with this Idempotency-Key is still running; retry later");
