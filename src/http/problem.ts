import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { ZodError } from "zod";

export type ErrorCode =
  | "VALIDATION_ERROR"
  | "BOOKING_DEADLINE_PASSED"
  | "UNAUTHENTICATED"
  | "INVALID_CREDENTIALS"
  | "FORBIDDEN"
  | "NOT_FOUND"
  | "USER_EXISTS"
  | "CAPACITY_EXCEEDED"
  | "RESERVATION_NOT_PENDING"
  | "PAYLOAD_TOO_LARGE"
  | "RATE_LIMITED"
  | "INTERNAL"
  | "SERVICE_UNAVAILABLE";

const statusOf: Record<ErrorCode, ContentfulStatusCode> = {
  VALIDATION_ERROR: 400,
  BOOKING_DEADLINE_PASSED: 400,
  UNAUTHENTICATED: 401,
  INVALID_CREDENTIALS: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  USER_EXISTS: 409,
  CAPACITY_EXCEEDED: 409,
  RESERVATION_NOT_PENDING: 409,
  PAYLOAD_TOO_LARGE: 413,
  RATE_LIMITED: 429,
  INTERNAL: 500,
  SERVICE_UNAVAILABLE: 503,
};

const titleOf: Record<ErrorCode, string> = {
  VALIDATION_ERROR: "Invalid request",
  BOOKING_DEADLINE_PASSED: "Booking deadline passed",
  UNAUTHENTICATED: "Authentication required",
  INVALID_CREDENTIALS: "Invalid credentials",
  FORBIDDEN: "Forbidden",
  NOT_FOUND: "Not found",
  USER_EXISTS: "User already exists",
  CAPACITY_EXCEEDED: "Capacity exceeded",
  RESERVATION_NOT_PENDING: "Reservation is not pending",
  PAYLOAD_TOO_LARGE: "Payload too large",
  RATE_LIMITED: "Too many requests",
  INTERNAL: "Internal server error",
  SERVICE_UNAVAILABLE: "Service unavailable",
};

export type FieldError = { path: string; message: string };

/** A failure the client can act on; the error handler turns it into a problem document. */
export class AppError extends Error {
  readonly status: ContentfulStatusCode;
  constructor(
    readonly code: ErrorCode,
    detail: string = titleOf[code],
    readonly extra: { errors?: FieldError[]; headers?: Record<string, string> } = {},
  ) {
    super(detail);
    this.name = "AppError";
    this.status = statusOf[code];
  }
}

export type Problem = {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: ErrorCode;
  errors?: FieldError[];
  request_id?: string;
};

export function problemOf(error: AppError, requestId?: string): Problem {
  return {
    type: `https://errors.exam-slots.dev/${error.code.toLowerCase().replaceAll("_", "-")}`,
    title: titleOf[error.code],
    status: error.status,
    detail: error.message,
    code: error.code,
    ...(error.extra.errors ? { errors: error.extra.errors } : {}),
    ...(requestId ? { request_id: requestId } : {}),
  };
}

export function problemResponse(c: Context, error: AppError): Response {
  const requestId = c.get("requestId") as string | undefined;
  for (const [name, value] of Object.entries(error.extra.headers ?? {})) c.header(name, value);
  c.header("Content-Type", "application/problem+json");
  return c.body(JSON.stringify(problemOf(error, requestId)), error.status);
}

/** A 400 VALIDATION_ERROR listing field problems, whether zod or a rule of the domain found them. */
export function fieldErrors(errors: FieldError[]): AppError {
  const detail = errors.map((e) => `${e.path}: ${e.message}`).join("; ");
  return new AppError("VALIDATION_ERROR", detail, { errors });
}

export function validationError(error: ZodError): AppError {
  return fieldErrors(error.issues.map((issue) => ({
    path: issue.path.map(String).join(".") || "body",
    message: issue.message,
  })));
}
