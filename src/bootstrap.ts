import { type Config, ConfigError, loadConfig } from "./config.ts";
import { type Database, DatabaseOpenError, openDatabase } from "./platform/db.ts";
import { migrate } from "./platform/migrate.ts";
import { openCache } from "./platform/cache.ts";
import { systemClock } from "./platform/clock.ts";
import { createConsoleLogger, createJsonLogger } from "./platform/logger.ts";
import { telemetryEnabled } from "./platform/telemetry.ts";
import type { Deps } from "./deps.ts";

/** Loads the configuration and opens a migrated database, or exits with one clear line. */
export async function bootstrap(): Promise<{ config: Config; database: Database }> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    console.error(error.message);
    Deno.exit(1);
  }
  const database = await openDatabase(config).catch((error) => {
    if (!(error instanceof DatabaseOpenError)) throw error;
    console.error(error.message);
    Deno.exit(1);
  });
  const applied = await migrate(database.sql);
  if (applied.length > 0) console.error(`applied migrations: ${applied.join(", ")}`);
  return { config, database };
}

/**
 * The dependencies a real server runs with: the configured cache, the system clock, JSON logs (through the
 * console where Deno exports them with the trace ids, else buffered to stdout).
 */
export function serverDeps(config: Config, database: Database) {
  const logger = telemetryEnabled || config.DENO_DEPLOYMENT_ID ? createConsoleLogger() : createJsonLogger();
  return { config, sql: database.sql, cache: openCache(config), clock: systemClock, logger } satisfies Deps;
}
