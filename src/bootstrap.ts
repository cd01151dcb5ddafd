import { type Config, loadConfig } from "./config.ts";
import { type Database, openDatabase } from "./platform/db.ts";
import { migrate } from "./platform/migrate.ts";
import { storeCapacityLimits } from "./reservations/capacity.ts";
import { openCache } from "./platform/cache.ts";
import { systemClock } from "./platform/clock.ts";
import { prepareDataDir } from "./platform/data-dir.ts";
import { createConsoleLogger, createJsonLogger } from "./platform/logger.ts";
import { exitOnStartupError, StartupError } from "./platform/startup.ts";
import { telemetryEnabled } from "./platform/telemetry.ts";
import type { Deps } from "./deps.ts";

/** Every interface: the server is reached from the host, and from other containers under compose. */
const hostname = "0.0.0.0";

/**
 * Loads the configuration and opens a migrated database holding this configuration's capacity limits, or exits with
 * one line naming the cause and the fix. For a server (`listening`), PORT is checked first: nothing is opened for a
 * start that could not listen. Configuration warnings wait for a start that works, so a failing one prints its line
 * alone.
 */
export async function bootstrap({ listening = false } = {}): Promise<{ config: Config; database: Database }> {
  const warnings: string[] = [];
  const { config, database } = await exitOnStartupError(async () => {
    const config = loadConfig(Deno.env.toObject(), (warning) => warnings.push(warning));
    if (listening) assertPortFree(config.PORT);
    if (!config.DATABASE_URL) await prepareDataDir(config.DATA_DIR);
    return { config, database: await openDatabase(config) };
  });
  const applied = await exitOnStartupError(() => migrate(database.sql), database.close);
  for (const warning of warnings) console.warn(warning);
  if (applied.length > 0) console.error(`applied migrations: ${applied.join(", ")}`);
  await storeCapacityLimits(database.sql, config);
  return { config, database };
}

/** Deno.serve on PORT; a port that cannot be listened on is a StartupError, for `exitOnStartupError`. */
export function serve(port: number, handler: Deno.ServeHandler, onListen: (addr: Deno.NetAddr) => void) {
  try {
    return Deno.serve({ port, hostname, onListen }, handler);
  } catch (error) {
    throw portFailure(port, error);
  }
}

/** Listens on PORT and lets go at once: taken or forbidden, it fails here, before the database is opened. */
function assertPortFree(port: number) {
  if (port === 0) return;
  try {
    Deno.listen({ hostname, port }).close();
  } catch (error) {
    throw portFailure(port, error);
  }
}

function portFailure(port: number, error: unknown): unknown {
  if (error instanceof Deno.errors.AddrInUse) {
    return new StartupError(
      `PORT=${port} is already in use (another server, or an earlier start still running): stop it, ` +
        `or choose another port (PORT=${port + 1} deno task start)`,
    );
  }
  if (error instanceof Deno.errors.PermissionDenied) {
    return new StartupError(`PORT=${port} may not be listened on by this user: set PORT to 1024 or above`);
  }
  return error;
}

/**
 * The dependencies a real server runs with: the configured cache, the system clock, JSON logs (through the
 * console where Deno exports them with the trace ids, else buffered to stdout).
 */
export function serverDeps(config: Config, database: Database) {
  const logger = telemetryEnabled || config.DENO_DEPLOYMENT_ID ? createConsoleLogger() : createJsonLogger();
  return { config, sql: database.sql, cache: openCache(config), clock: systemClock, logger } satisfies Deps;
}
