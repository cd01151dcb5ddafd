import postgres from "postgres";
import { StartupError } from "./startup.ts";

/** The database cannot be opened: reported at start-up as this one line, without a stack trace. */
export class DatabaseOpenError extends StartupError {}

/** What went wrong reaching `url` first, as one line naming its host and port, never its password. */
export function openFailure(url: URL, error: unknown): DatabaseOpenError {
  const where = `${url.hostname}:${url.port || 5432}`;
  return new DatabaseOpenError(`cannot open the database at ${where} (DATABASE_URL): ${reason(error)}`, {
    cause: error,
  });
}

const reasons: Record<string, string> = {
  ECONNREFUSED: "connection refused (is PostgreSQL running there?)",
  ENOTFOUND: "no such host",
  EAI_AGAIN: "the host name could not be resolved",
  CONNECT_TIMEOUT: "no answer within 2 s",
  ETIMEDOUT: "no answer",
  ECONNRESET: "the connection was reset",
  EHOSTUNREACH: "the host is unreachable",
  CONNECTION_CLOSED: "the server closed the connection",
  TLS_REFUSED: "the server does not accept TLS, which sslmode asks for",
};

function reason(error: unknown): string {
  if (error instanceof postgres.PostgresError) return `${error.message}${hints(error)}`;
  const code = error instanceof Error && "code" in error ? String(error.code) : "";
  if (Object.hasOwn(reasons, code)) return reasons[code];
  const message = error instanceof Error ? error.message : String(error);
  return `${code && !message.includes(code) ? `${code}: ` : ""}${message.split("\n")[0]}`;
}

function hints(error: postgres.PostgresError): string {
  // PgBouncer refuses what it does not know in the startup message, as the statement timeout of a direct connection.
  if (/unsupported startup parameter/.test(error.message)) return " (a transaction pooler? set DB_POOLER=transaction)";
  // Behind a pooler the statement timeout is the role's own setting (db-pooler.ts), which this role may not change.
  if (error.code === "42501") return " (set statement_timeout for the role yourself and DB_STATEMENT_TIMEOUT_MS=0)";
  return "";
}
