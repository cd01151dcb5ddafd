import { createApp } from "./app.ts";
import { bootstrap, serve, serverDeps } from "./bootstrap.ts";
import { docsPath } from "./http/docs.ts";
import { exitOnStartupError } from "./platform/startup.ts";
import { trackInFlight } from "./platform/in-flight.ts";
import { passwordQueueLength, startPasswordWorkers, stopPasswordWorkers } from "./auth/passwords.ts";
import { observeGauge } from "./platform/telemetry.ts";
import { ensureAdmin } from "./users/users.service.ts";
import { runWebhookDeliveries } from "./webhooks/worker.ts";

const { config, database } = await bootstrap({ listening: true });
const deps = serverDeps(config, database);
const { logger } = deps;

const hashing = await startPasswordWorkers({
  workers: config.PASSWORD_WORKERS,
  queueLimit: config.PASSWORD_QUEUE_LIMIT,
});
logger.info({ message: "password hashing", hashing });
observeGauge("auth.password_hashing.queue", "Password hashes waiting for a worker", passwordQueueLength);

if (config.ADMIN_EMAIL && config.ADMIN_PASSWORD) {
  const { ADMIN_EMAIL: email, ADMIN_PASSWORD: password, BCRYPT_COST: cost } = config;
  const admin = await ensureAdmin(database, { email, password, cost });
  // Serve on: the operator fixes the email or the password; the account itself stays as its owner made it.
  if (admin.outcome === "squatted") {
    logger.error({
      message: `ADMIN_EMAIL ${email} belongs to a non-admin account whose password is not ADMIN_PASSWORD: not promoted`,
      email,
    });
  }
}

const deliveries = runWebhookDeliveries(deps);
const app = createApp(deps, deliveries);

const requests = trackInFlight(app.fetch);
const server = await exitOnStartupError(
  () =>
    serve(config.PORT, requests.handler, ({ port }) => {
      const docs = config.DOCS_ENABLED ? `http://localhost:${port}${docsPath}` : "off (DOCS_ENABLED=true serves them)";
      logger.info({ message: "listening", port, env: config.APP_ENV, docs });
    }),
  database.close,
);

// Under Docker's 30 s stop_grace_period (infra/docker-compose.yaml), so the pool still closes cleanly.
const drainTimeoutMs = 20_000;

let stopping = false;

// Let in-flight requests finish, stop accepting, then close the pool. Once: `deno task` passes a signal on too.
async function shutdown(signal: string) {
  if (stopping) return;
  stopping = true;
  logger.info({ message: "shutting down", signal });
  await requests.idle(drainTimeoutMs);
  await server.shutdown();
  await deliveries?.stop();
  await database.close();
  stopPasswordWorkers();
  logger.flush();
  Deno.exit(0);
}
// Deno Deploy manages the isolate's life itself and gives no signals to listen to.
if (!config.DENO_DEPLOYMENT_ID) {
  for (const signal of ["SIGTERM", "SIGINT"] as const) Deno.addSignalListener(signal, () => shutdown(signal));
}
