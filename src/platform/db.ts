import postgres from "postgres";
import { openEmbedded } from "./db-embedded.ts";
import { openFailure } from "./db-open-error.ts";
import { isTransactionPooler, type PoolerSetting, setRoleStatementTimeout } from "./db-pooler.ts";
import { socketFactory, type SocketOptions, tlsModeOf } from "./db-socket.ts";
import { telemetryEnabled } from "./telemetry.ts";
import { traceSql } from "./traced-sql.ts";

export { DatabaseOpenError } from "./db-open-error.ts";

// deno-lint-ignore ban-types -- postgres.js's own default for "no custom types"
export type Sql = postgres.Sql<{}>;
// deno-lint-ignore ban-types
export type Tx = postgres.TransactionSql<{}>;

export type Database = { sql: Sql; close(): Promise<void> };

/** The SQLSTATE of an error the server raised, e.g. "23505"; undefined for anything else. */
const sqlState = (error: unknown) => error instanceof postgres.PostgresError ? error.code : undefined;

/** A unique violation, of `constraint` when named. */
export const isUniqueViolation = (error: unknown, constraint?: string) =>
  sqlState(error) === "23505" &&
  (constraint === undefined || (error as postgres.PostgresError).constraint_name === constraint);
/** A check violation, of `constraint`: a value the table (or a trigger in its name) refuses. */
export const isCheckViolation = (error: unknown, constraint: string): error is postgres.PostgresError =>
  sqlState(error) === "23514" && (error as postgres.PostgresError).constraint_name === constraint;
/** Another transaction got there first: run this one again. */
export const isSerializationFailure = (error: unknown) => sqlState(error) === "40001";
/** Class 22, data exceptions: a value the schemas let through but the database refuses. */
export const isDataException = (error: unknown) => sqlState(error)?.startsWith("22") ?? false;
/** 57014, query_canceled: a statement ran past `statement_timeout` (or was cancelled by an operator). */
export const isQueryCanceled = (error: unknown) => sqlState(error) === "57014";

// postgres.js reports its own connection failures as plain errors with these codes.
const connectionErrorCodes = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "EPIPE",
  "ETIMEDOUT",
  "CONNECT_TIMEOUT",
  "CONNECTION_CLOSED",
  "CONNECTION_ENDED",
  "CONNECTION_DESTROYED",
]);

/** True for errors that mean "the server is not reachable right now", not "the query is wrong". */
export function isDatabaseUnreachable(error: unknown): boolean {
  const state = sqlState(error);
  // 08xxx: connection exceptions; 57P0x: the server is shutting down or starting up.
  if (state) return state.startsWith("08") || /^57P0[1-4]$/.test(state);
  const code = error instanceof Error && "code" in error ? error.code : undefined;
  return typeof code === "string" && connectionErrorCodes.has(code);
}

type DatabaseConfig = {
  DATABASE_URL?: string;
  DATA_DIR: string;
  DB_POOL_MAX: number;
  /** 0 (or absent): the service sets none, and whatever the server or the role has applies. */
  DB_STATEMENT_TIMEOUT_MS?: number;
  DB_POOLER?: PoolerSetting;
};

// A reachable PostgreSQL answers a connect in milliseconds; one that does not answer in 2 s is down.
const connectTimeoutSeconds = 2;

const connectionOptions = {
  onnotice: () => {},
  connect_timeout: connectTimeoutSeconds,
  // The default backoff grows to 20 s over an outage and queued queries wait it out: capped at 0.5 s,
  // requests fail fast while the database is down and succeed within a second of its return.
  backoff: (retries: number) => Math.min(retries * 0.05, 0.5),
  idle_timeout: 30,
  transform: { undefined: null },
  // TLS is negotiated by db-socket.ts, which has to read the plain protocol: the driver always gets a plain socket.
  ssl: false,
} as const;

/** postgres.js takes a `socket` factory without declaring it in its types. */
const driverSocket = (options: Omit<SocketOptions, "connectTimeoutMs">) => ({
  socket: socketFactory({ ...options, connectTimeoutMs: connectTimeoutSeconds * 1000 }),
});

/**
 * postgres.js 3.4.9 may flush a buffered write, from a setImmediate callback, to a connection the server has
 * just closed (porsager/postgres#1154): the TypeError escapes every await and would end the process, as a
 * PostgreSQL restart under load shows. The query that write belonged to has already been rejected with
 * CONNECTION_CLOSED, so dropping the error loses nothing.
 */
function isStrayWriteToClosedSocket(error: unknown): boolean {
  return error instanceof TypeError && /reading 'write'/.test(error.message) &&
    /nextWrite[\s\S]*postgres/.test(error.stack ?? "");
}

/** Spans for statements and transactions when OpenTelemetry is on; otherwise the driver untouched, at no cost. */
const observed = (sql: Sql): Sql => telemetryEnabled ? traceSql(sql) : sql;

let strayWritesDropped = false;
function dropStrayWrites() {
  if (strayWritesDropped) return;
  strayWritesDropped = true;
  globalThis.addEventListener("error", (event) => {
    if (isStrayWriteToClosedSocket(event.error)) event.preventDefault();
  });
}

/**
 * postgres.js on DATABASE_URL (through a transaction pooler when DB_POOLER says so, or the URL names one), or on an
 * embedded PGlite in DATA_DIR. A database that cannot be used fails here, with a DatabaseOpenError of one line: for
 * DATABASE_URL the first statement has run.
 */
export async function openDatabase(config: DatabaseConfig): Promise<Database> {
  dropStrayWrites();
  return config.DATABASE_URL ? await openRemote(config.DATABASE_URL, config) : await openLocal(config.DATA_DIR);
}

async function openRemote(databaseUrl: string, config: DatabaseConfig): Promise<Database> {
  const url = new URL(databaseUrl);
  const pooled = isTransactionPooler(url, config.DB_POOLER);
  const timeout = config.DB_STATEMENT_TIMEOUT_MS ?? 0;
  const sql = postgres(databaseUrl, {
    ...connectionOptions,
    ...driverSocket({ tls: tlsModeOf(url), pooled }),
    max: config.DB_POOL_MAX,
    // No request holds a pooled connection for long: a statement running past this is cancelled (57014 → 503).
    // A transaction pooler refuses it in the startup message: there it is the role's setting instead.
    ...(timeout && !pooled ? { connection: { statement_timeout: timeout } } : {}),
  });
  try {
    if (timeout && pooled) await setRoleStatementTimeout(sql, timeout);
    else await sql`SELECT 1`;
  } catch (error) {
    await sql.end({ timeout: 0 });
    throw openFailure(url, error);
  }
  return { sql: observed(sql), close: () => sql.end({ timeout: 5 }) };
}

async function openLocal(dataDir: string): Promise<Database> {
  const embedded = await openEmbedded(dataDir);
  // PGlite runs one session: a larger pool through the socket hangs, so every query queues on one connection.
  // It has no statement_timeout to give: it ignores the setting (single-threaded WASM, no timer to cancel with).
  const sql = postgres({
    ...connectionOptions,
    ...driverSocket({ tls: "off", pooled: false }),
    ...embedded.at,
    user: "postgres",
    db: "postgres",
    max: 1,
  });
  return {
    sql: observed(sql),
    close: async () => {
      await sql.end({ timeout: 5 });
      await embedded.close();
    },
  };
}
