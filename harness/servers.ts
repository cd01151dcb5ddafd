import { type PgBouncer, startPgBouncer } from "./pgbouncer.ts";
import { type PostgresServer, startPostgres } from "./postgres.ts";
import { type RedisServer, startRedis } from "./redis.ts";
import { startUpstashProxy, type UpstashProxy } from "./upstash-proxy.ts";

export type TestServers = {
  databaseUrl: string;
  upstashUrl: string;
  upstashToken: string;
  postgres: PostgresServer;
  redis: RedisServer;
  proxy: UpstashProxy;
  stop(): Promise<void>;
};

let servers: Promise<TestServers> | undefined;
let pooler: Promise<PgBouncer> | undefined;

/**
 * PostgreSQL, redis-server and the Upstash proxy, started on first use and shared by the tests of this file.
 * `deno test` gives every test file a runtime of its own, so this is one set per file; they are stopped when
 * the file's runtime unloads (or by `stop()`).
 */
export function startTestServers(): Promise<TestServers> {
  return servers ??= boot();
}

/** A new, empty database on the shared cluster: one per test context keeps tests independent. */
export async function freshDatabase(): Promise<string> {
  return (await startTestServers()).postgres.createDatabase();
}

/** The PgBouncer (transaction mode) in front of the shared cluster, started on first use by the tests of this file. */
export async function startTestPooler(): Promise<PgBouncer> {
  const { postgres } = await startTestServers();
  return await (pooler ??= startPgBouncer(postgres.port));
}

/** A new, empty database on the shared cluster, reached through the pooler: set DB_POOLER=transaction with it. */
export async function freshPooledDatabase(): Promise<string> {
  return (await startTestPooler()).url(await freshDatabase());
}

/** PostgreSQL directly and through the pooler: where a spec runs twice, a new database on each, and its DB_POOLER. */
export const postgresRoutes = [
  { via: "", fresh: freshDatabase, DB_POOLER: "none" },
  { via: " (through PgBouncer)", fresh: freshPooledDatabase, DB_POOLER: "transaction" },
] as const;

async function boot(): Promise<TestServers> {
  const [postgres, redis] = await Promise.all([startPostgres(), startRedis()]);
  const proxy = await startUpstashProxy(redis.port);
  return {
    databaseUrl: postgres.url,
    upstashUrl: proxy.url,
    upstashToken: proxy.token,
    postgres,
    redis,
    proxy,
    async stop() {
      servers = undefined;
      await (await pooler)?.stop();
      pooler = undefined;
      await proxy.stop();
      await Promise.all([postgres.destroy(), redis.stop()]);
    },
  };
}
