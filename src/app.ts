import { bodyLimit } from "hono/body-limit";
import { cors } from "hono/cors";
import { requestId } from "hono/request-id";
import { secureHeaders } from "hono/secure-headers";
import type { Deps } from "./deps.ts";
import { createRouter } from "./http/router.ts";
import { apiIndex, docsPath, gettingStarted, servedDocument, specPath, swaggerDocs } from "./http/docs.ts";
import { notFound, onError } from "./http/errors.ts";
import { AppError } from "./http/problem.ts";
import { requestTelemetry } from "./http/telemetry.ts";
import { telemetryEnabled } from "./platform/telemetry.ts";
import { authRouter } from "./auth/auth.index.ts";
import { usersRouter } from "./users/users.index.ts";
import { reservationsRouter } from "./reservations/reservations.index.ts";
import { availabilityRouter } from "./availability/availability.index.ts";
import { bookingSchemaFacts } from "./reservations/reservations.schemas.ts";
import { healthRouter } from "./health/health.index.ts";
import { webhooksRouter } from "./webhooks/webhooks.index.ts";
import { type DeliveryWorker, wakeAfterWrites } from "./webhooks/worker.ts";

export const apiBase = "/api/v1";

/**
 * The whole HTTP surface, built from its dependencies so tests can pass a real database and a fixed clock; a webhook
 * worker of the same process, if any, is woken after every write.
 */
export function createApp(deps: Deps, deliveries?: Pick<DeliveryWorker, "wake">) {
  const app = createRouter();
  const { config, logger } = deps;

  app.use(requestId({ headerName: "X-Request-Id" }));
  if (telemetryEnabled) app.use(requestTelemetry(apiBase));
  app.use(async (c, next) => {
    const started = performance.now();
    c.set("deps", deps);
    await next();
    logger.info({
      request_id: c.var.requestId,
      method: c.req.method,
      path: c.req.path,
      status: c.res.status,
      duration_ms: Math.round((performance.now() - started) * 10) / 10,
      user_id: c.var.caller?.id ?? null,
    });
  });
  if (deliveries) app.use(`${apiBase}/*`, wakeAfterWrites(deliveries));
  app.use(secureHeaders());
  if (config.CORS_ORIGINS.length > 0) {
    app.use(cors({ origin: config.CORS_ORIGINS, exposeHeaders: ["X-Request-Id", "Retry-After"] }));
  }
  app.use(bodyLimit({
    maxSize: config.MAX_BODY_BYTES,
    onError: () => {
      throw new AppError("PAYLOAD_TOO_LARGE", `The body is over ${config.MAX_BODY_BYTES} bytes`);
    },
  }));

  // One chained expression, so its type carries every route for `hc<AppType>`.
  const routes = app
    .route("/", healthRouter)
    .route(apiBase, authRouter)
    .route(apiBase, usersRouter)
    .route(apiBase, reservationsRouter)
    .route(apiBase, availabilityRouter)
    .route(apiBase, webhooksRouter);

  if (config.DOCS_ENABLED) {
    app.openAPIRegistry.registerComponent("securitySchemes", "bearerAuth", {
      type: "http",
      scheme: "bearer",
      bearerFormat: "JWT",
    });
    // Made for each request: its examples are dated from today.
    app.get(specPath, (c) =>
      c.json(servedDocument(app, {
        description: gettingStarted(config, apiBase),
        schemas: bookingSchemaFacts(config, deps.clock()),
      })));
    app.route("/", swaggerDocs(docsPath, specPath));
  }
  app.get("/", (c) => c.json(apiIndex(config, apiBase)));

  app.notFound(notFound);
  app.onError(onError);
  return routes;
}

/** The type of the whole API, for Hono's typed client: `hc<AppType>(baseUrl)`. */
export type AppType = ReturnType<typeof createApp>;
