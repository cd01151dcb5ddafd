// The service behind a transaction-mode pooler (PgBouncer, Supavisor, Neon's pooled host): which URLs are one, and
// the statement timeout, which such a pooler does not take in the startup message. docs/poolers.md tells the story.
import type { Sql } from "./db.ts";

/** DB_POOLER: `transaction` behind such a pooler, `none` on a direct connection, `auto` tells by DATABASE_URL. */
export type PoolerSetting = "auto" | "transaction" | "none";

/**
 * The transaction poolers an address names: Neon's pooled endpoints (`-pooler` ends the first label of the host),
 * and port 6543 at Supabase (its shared pooler and the dedicated PgBouncer; port 5432 there is session mode, which
 * needs nothing).
 */
export function isTransactionPooler(url: URL, setting: PoolerSetting = "auto"): boolean {
  if (setting !== "auto") return setting === "transaction";
  const neon = /^[^.]+-pooler\./.test(url.hostname);
  const supabase = url.port === "6543" && /(^|\.)supabase\.com?$/.test(url.hostname);
  return neon || supabase;
}

// Any constant shared by every instance: one of them changes the role's setting at a time.
const settingLock = 7_240_916;

/**
 * Makes `ms` the statement_timeout of every session of this role in this database (ALTER ROLE … IN DATABASE … SET),
 * since the pooler refuses it as a startup parameter and a SET would stay on whichever server connection ran it.
 * The pooler's server sessions read it when they log in; the one this runs on takes it at once. Changed only when it
 * differs, under a lock: concurrent ALTER ROLEs of one role fail with "tuple concurrently updated".
 */
export async function setRoleStatementTimeout(sql: Sql, ms: number): Promise<void> {
  await sql.begin(async (tx) => {
    await tx`SELECT pg_advisory_xact_lock(${settingLock})`;
    const [{ current, alter }] = await tx`
      SELECT ${`statement_timeout=${ms}`} = ANY (s.setconfig) AS current,
             format('ALTER ROLE %I IN DATABASE %I SET statement_timeout = %L', current_user, current_database(),
                    ${String(ms)}::text) AS alter
      FROM (SELECT) AS one
      LEFT JOIN pg_db_role_setting s
        ON s.setrole = (SELECT oid FROM pg_roles WHERE rolname = current_user)
       AND s.setdatabase = (SELECT oid FROM pg_database WHERE datname = current_database())`;
    // The statement is PostgreSQL's own format() of the names and the value: nothing is spliced in here.
    if (!current) await tx.unsafe(alter);
    await tx`SELECT set_config('statement_timeout', ${String(ms)}, false)`;
  });
}
