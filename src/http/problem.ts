import type { Context } from "hono";
import type { ContentfulStatusCode } from "hono/utils/http-status";
import type { ZodError } from "zod";

/** Every error code of the contract: its HTTP status and the title its problem documents carry. */
const errorTable = {
  VALIDATION_ERROR: { status: 400, title: "Invalid request" },
  BOOKING_DEADLINE_PASSED: { status: 400, title: "Booking deadline passed" },
  UNAUTHENTICATED: { status: 401, title: "Authentication required" },
  INVALID_CREDENTIALS: { status: 401, title: "Invalid credentials" },
  FORBIDDEN: { status: 403, title: "Forbidden" },
  NOT_FOUND: { status: 404, title: "Not found" },
  USER_EXISTS: { status: 409, title: "User already exists" },
  CAPACITY_EXCEEDED: { status: 409, title: "Capacity exceeded" },
  RESERVATION_NOT_PENDING: { status: 409, title: "Reservation is not pending" },
  TOO_MANY_PENDING: { status: 409, title: "Too many pending reservations" },
  TOO_MANY_CHANGES: { status: 409, title: "Too many changes" },
  TOO_MANY_WEBHOOKS: { status: 409, title: "Too many webhooks" },
  IDEMPOTENCY_KEY_IN_USE: { status: 409, title: "Idempotency key in use" },
  PRECONDITION_FAILED: { status: 412, title: "Precondition failed" },
  PAYLOAD_TOO_LARGE: { status: 413, title: "Payload too large" },
  IDEMPOTENCY_KEY_REUSED: { status: 422, title: "Idempotency key reused" },
  RATE_LIMITED: { status: 429, title: "Too many requests" },
  INTERNAL: { status: 500, title: "Internal server error" },
  SERVICE_UNAVAILABLE: { status: 503, title: "Service unavailable" },
} as const satisfies Record<string, { status: ContentfulStatusCode; title: string }>;

export type ErrorCode = keyof typeof errorTable;

export const errorCodes = Object.keys(errorTable) as [ErrorCode, ...ErrorCode[]];

export type FieldError = { path: string; message: string };

/** A failure the client can act on; the error handler turns it into a problem document. */
export class AppError extends Error {
  readonly status: ContentfulStatusCode;
  constructor(
    readonly code: ErrorCode,
    detail: string = errorTable[code].title,
    readonly extra: { errors?: FieldError[]; headers?: Record<string, string> } = {},
  ) {
    super(detail);
    this.name = "AppError";
    this.status = errorTable[code].status;
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
    title: errorTable[error.code].title,
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
