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
      await proxy.stop();
      await Promise.all([postgres.destroy(), redis.stop()]);
    },
  };
}
