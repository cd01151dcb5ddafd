/** A dependency that did not answer; the error handler turns it into 503 SERVICE_UNAVAILABLE. */
export class UnavailableError extends Error {
  constructor(readonly dependency: "database" | "cache", options?: ErrorOptions) {
    super(`${dependency} unavailable`, options);
    this.name = "UnavailableError";
  }
}

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

/** True for postgres.js errors that mean "the server is not reachable right now", not "the query is wrong". */
export function isDatabaseUnreachable(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  const code = (error as { code?: unknown }).code;
  if (typeof code !== "string") return false;
  // 08xxx: connection exceptions; 57P0x: the server is shutting down or starting up.
  return connectionErrorCodes.has(code) || code.startsWith("08") || /^57P0[1-4]$/.test(code);
}
