import { Redis } from "@upstash/redis";
import type { Cache } from "../../src/platform/cache.ts";
import { MemoryCache } from "../../src/platform/cache.ts";
import { startTestServers } from "../../harness/servers.ts";

/** The Redis behind the test cache, spoken to directly to see what the service leaves in it. */
export async function redis() {
  const { upstashUrl: url, upstashToken: token } = await startTestServers();
  return new Redis({ url, token, enableTelemetry: false });
}

/** The keys `cache` holds right now that begin with `prefix`: the memory cache's, or the test Redis's. */
export async function cacheKeys(cache: Cache, prefix = ""): Promise<string[]> {
  if (cache instanceof MemoryCache) return cache.keys().filter((key) => key.startsWith(prefix));
  // KEYS takes a glob: the prefix's own glob characters are escaped.
  return await (await redis()).keys(`${prefix.replace(/[*?[\]\\]/g, "\\$&")}*`);
}
