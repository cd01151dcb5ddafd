import type { Config } from "./config.ts";
import type { Cache } from "./platform/cache.ts";
import type { Clock } from "./platform/clock.ts";
import type { Logger } from "./platform/logger.ts";
import type { Sql } from "./platform/db.ts";
import type { Resolver } from "./platform/dns.ts";

/** Everything a handler or service may depend on; built once in main.ts, or by the tests. */
export type Deps = {
  config: Config;
  sql: Sql;
  cache: Cache;
  clock: Clock;
  logger: Logger;
  /** How host names resolve (webhook targets); the system's resolver when absent. Tests pass their own. */
  resolveHost?: Resolver;
};
