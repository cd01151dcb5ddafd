import net from "node:net";
import postgres from "postgres";
import { telemetryEnabled } from "./telemetry.ts";
import { traceSql } from "./traced-sql.ts";

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
  DB_STATEMENT_TIMEOUT_MS?: number;
};

/**
 * postgres.js's own socket keeps Nagle's algorithm on: a pipelined batch over 1 KB (a keyed confirm with its stored
 * outcome) goes out as two writes, and the second waits for the server's ACK of the first, a whole round trip. libpq
 * sets TCP_NODELAY; so do we. The socket is handed over still connecting, as postgres.js's own is, so its connect
 * timeout and error handling apply unchanged (it writes the startup message once connected). DATABASE_URL names one
 * host: postgres.js's rotation over several is not kept.
 */
function noDelaySocket(options: { host: string[]; port: number[]; path?: string }) {
  const [host, port] = [options.host[0], options.port[0]];
  const socket = Object.assign(new net.Socket(), { host, port }); // host and port name it in connection errors
  socket.once("connect", () => socket.setNoDelay(true));
  return options.path ? socket.connect(options.path) : socket.connect(port, host);
}

const connectionOptions = {
  socket: noDelaySocket,
  onnotice: () => {},
  // A reachable PostgreSQL answers a connect in milliseconds; one that does not answer in 2 s is down.
  connect_timeout: 2,
  // The default backoff grows to 20 s over an outage and queued queries wait it out: capped at 0.5 s,
  // requests fail fast while the database is down and succeed within a second of its return.
  backoff: (retries: number) => Math.min(retries * 0.05, 0.5),
  idle_timeout: 30,
  transform: { undefined: null },
} as const;

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

/** postgres.js on DATABASE_URL, or on an embedded PGlite in DATA_DIR served over a loopback socket. */
export async function openDatabase(config: DatabaseConfig): Promise<Database> {
  dropStrayWrites();
  if (config.DATABASE_URL) {
    const sql = postgres(config.DATABASE_URL, {
      ...connectionOptions,
      max: config.DB_POOL_MAX,
      // No request holds a pooled connection for long: a statement running past this is cancelled (57014 → 503).
      ...(config.DB_STATEMENT_TIMEOUT_MS ? { connection: { statement_timeout: config.DB_STATEMENT_TIMEOUT_MS } } : {}),
    });
    return { sql: observed(sql), close: () => sql.end({ timeout: 5 }) };
  }
  return await openEmbedded(config.DATA_DIR);
}

async function openEmbedded(dataDir: string): Promise<Database> {
  // Loaded lazily: the WASM build is only needed without DATABASE_URL, and never on Deno Deploy.
  const { PGlite } = await import("@electric-sql/pglite");
  const { PGLiteSocketServer } = await import("@electric-sql/pglite-socket");
  await Deno.mkdir(dataDir, { recursive: true });
  const db = await PGlite.create(dataDir);
  const server = new PGLiteSocketServer({ db, host: "127.0.0.1", port: 0 });
  await server.start();
  // PGlite runs one session: a larger pool through the socket hangs, so every query queues on one connection.
  // It has no statement_timeout to give: it ignores the setting (single-threaded WASM, no timer to cancel with).
  const sql = postgres(`postgres://postgres@${server.getServerConn()}/postgres`, { ...connectionOptions, max: 1 });
  return {
    sql: observed(sql),
    close: async () => {
      await sql.end({ timeout: 5 });
      await server.stop();
      await db.close();
    },
  };
}
