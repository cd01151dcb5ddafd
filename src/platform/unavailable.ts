/** A dependency that did not answer; the error handler turns it into 503 SERVICE_UNAVAILABLE. */
export class UnavailableError extends Error {
  constructor(readonly dependency: "database" | "cache", options?: ErrorOptions) {
    super(`${dependency} unavailable`, options);
    this.name = "UnavailableError";
  }
}
