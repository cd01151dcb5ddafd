import { createApp } from "./app.ts";
import { bootstrap, serverDeps } from "./bootstrap.ts";
import { trackInFlight } from "./platform/in-flight.ts";
import { hashPassword } from "./auth/passwords.ts";
import { ensureAdmin } from "./users/users.service.ts";
import { systemClock } from "./platform/clock.ts";

const { config, database } = await bootstrap();
if (config.ADMIN_EMAIL && config.ADMIN_PASSWORD) {
  const password = config.ADMIN_PASSWORD;
  await ensureAdmin(
    { sql: database.sql, clock: systemClock },
    config.ADMIN_EMAIL,
    () => hashPassword(password, config.BCRYPT_COST),
  );
}

const deps = serverDeps(config, database);
const { logger } = deps;
const app = createApp(deps);

const requests = trackInFlight(app.fetch);
const server = Deno.serve({
  port: config.PORT,
  hostname: "0.0.0.0",
  onListen: ({ port }) => logger.info({ message: "listening", port, env: config.APP_ENV }),
}, requests.handler);

// Under Docker's 30 s stop_grace_period (infra/docker-compose.yaml), so the pool still closes cleanly.
const drainTimeoutMs = 20_000;

// Let in-flight requests finish, stop accepting, then close the pool.
async function shutdown(signal: string) {
  logger.info({ message: "shutting down", signal });
  await requests.idle(drainTimeoutMs);
  await server.shutdown();
  await database.close();
  logger.flush();
  Deno.exit(0);
}
// Deno Deploy manages the isolate's life itself and gives no signals to listen to.
if (!config.DENO_DEPLOYMENT_ID) {
  for (const signal of ["SIGTERM", "SIGINT"] as const) Deno.addSignalListener(signal, () => shutdown(signal));
}
