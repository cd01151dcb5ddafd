import postgres from "postgres";
import { createApp } from "../app.ts";
import { loadConfig } from "../config.ts";
import { MemoryCache } from "../platform/cache.ts";
import { systemClock } from "../platform/clock.ts";
import { silentLogger } from "../platform/logger.ts";

/** The served /openapi.json; postgres.js connects on the first query only, so no database is needed. */
export async function openApiDocument(): Promise<Record<string, unknown>> {
  const config = loadConfig({ APP_ENV: "production", DOCS_ENABLED: "true", JWT_SECRET: "x".repeat(32) });
  const app = createApp({
    config,
    sql: postgres("postgres://inert.invalid/none"),
    cache: new MemoryCache(),
    clock: systemClock,
    logger: silentLogger,
  });
  return await (await app.request("/openapi.json")).json();
}
