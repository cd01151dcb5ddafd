import { trace } from "@opentelemetry/api";
import type { Context } from "hono";
import { createMiddleware } from "hono/factory";
import { matchedRoutes } from "hono/route";
import { meter } from "../platform/telemetry.ts";
import { AppError, type ErrorCode } from "./problem.ts";
import type { AppEnv } from "./router.ts";

/** `/api/v1/reservations/:id/confirm/` → `/api/v1/reservations/{id}/confirm`, as the OpenAPI document names it. */
export function routeTemplate(path: string): string {
  const template = path.replace(/:(\w+)(?:\{[^}]*\})?/g, "{$1}");
  return template.length > 1 ? template.replace(/\/$/, "") : template;
}

/** The matched route's template; none when only the app-wide middleware matched (a 404). */
function matchedRoute(c: Context): string | undefined {
  const route = matchedRoutes(c).at(-1);
  return route && route.method !== "ALL" ? routeTemplate(route.path) : undefined;
}

type Outcome = { route?: string; status: number; code?: ErrorCode };

function outcomeCounter(name: string, description: string, counts: (outcome: Outcome) => boolean) {
  const counter = meter.createCounter(name, { description });
  return (outcome: Outcome) => {
    if (counts(outcome)) counter.add(1, outcome.route ? { "http.route": outcome.route } : {});
  };
}

/**
 * Names Deno's server span by its route template and adds `http.route` (which Deno copies onto its
 * `http.server.request.duration` histogram), the request id and the problem code; counts the outcomes an operator
 * watches from the route, status and problem code alone, so no domain service knows about metrics.
 */
export function requestTelemetry(apiBase: string) {
  const confirmRoute = `${apiBase}/reservations/{id}/confirm`;
  const counters = [
    outcomeCounter(
      "reservations.confirmations",
      "Reservations confirmed",
      ({ route, status }) => route === confirmRoute && status === 200,
    ),
    outcomeCounter(
      "reservations.capacity_refusals",
      "Bookings, moves and confirmations refused for want of capacity",
      ({ code }) => code === "CAPACITY_EXCEEDED",
    ),
    outcomeCounter(
      "auth.login_failures",
      "Logins refused for a wrong email or password",
      ({ code }) => code === "INVALID_CREDENTIALS",
    ),
    outcomeCounter(
      "http.server.rate_limit_refusals",
      "Requests refused by a rate limit",
      ({ code }) => code === "RATE_LIMITED",
    ),
  ];

  return createMiddleware<AppEnv>(async function requestTelemetry(c, next) {
    await next();
    const route = matchedRoute(c);
    const status = c.res.status;
    const code = c.error instanceof AppError ? c.error.code : undefined;
    // A replayed outcome (Idempotency-Key) happened once already and was counted then.
    if (c.res.headers.get("Idempotent-Replayed") !== "true") {
      for (const count of counters) count({ route, status, code });
    }

    const span = trace.getActiveSpan();
    if (!span) return;
    span.setAttribute("app.request.id", c.var.requestId);
    if (route) span.updateName(`${c.req.method} ${route}`).setAttribute("http.route", route);
    if (code) span.setAttribute("app.problem.code", code);
    // Deno itself marks a 5xx server span as an error; the exception says which.
    if (status >= 500 && c.error) span.recordException(c.error);
  });
}
