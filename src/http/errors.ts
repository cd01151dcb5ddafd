import type { Context } from "hono";
import { HTTPException } from "hono/http-exception";
import { UnavailableError } from "../platform/unavailable.ts";
import { isDatabaseUnreachable, isDataException, isQueryCanceled } from "../platform/db.ts";
import type { AppEnv } from "./router.ts";
import { AppError, problemResponse } from "./problem.ts";

/** Maps anything thrown to the AppError the client sees; unknown failures stay opaque. */
function toAppError(error: unknown): AppError | undefined {
  if (error instanceof AppError) return error;
  if (error instanceof UnavailableError) {
    return new AppError("SERVICE_UNAVAILABLE", `The ${error.dependency} is unreachable; try again shortly`);
  }
  if (isDatabaseUnreachable(error)) {
    return new AppError("SERVICE_UNAVAILABLE", "The database is unreachable; try again shortly");
  }
  if (isQueryCanceled(error)) {
    return new AppError("SERVICE_UNAVAILABLE", "The database took too long to answer; try again shortly");
  }
  if (error instanceof HTTPException) {
    if (error.status === 400) return new AppError("VALIDATION_ERROR", error.message || "Malformed request");
    if (error.status === 415) return new AppError("VALIDATION_ERROR", "The body must be application/json");
    if (error.status === 401) return new AppError("UNAUTHENTICATED");
    if (error.status === 413) return new AppError("PAYLOAD_TOO_LARGE");
  }
  // Data exceptions (22xxx) are input the schemas let through but the database refuses: still the client's.
  if (isDataException(error)) return new AppError("VALIDATION_ERROR", "A value is out of the accepted range");
  return undefined;
}

export function onError(error: Error, c: Context<AppEnv>): Response {
  const appError = toAppError(error);
  if (appError && appError.code !== "SERVICE_UNAVAILABLE") return problemResponse(c, appError);
  c.var.deps?.logger.error({
    request_id: c.var.requestId,
    method: c.req.method,
    path: c.req.path,
    error: error.name,
    message: error.message,
    ...(appError ? {} : { stack: error.stack }),
  });
  return problemResponse(c, appError ?? new AppError("INTERNAL", "Something went wrong; quote the request id"));
}

export function notFound(c: Context<AppEnv>): Response {
  return problemResponse(c, new AppError("NOT_FOUND", `No route for ${c.req.method} ${c.req.path}`));
}
