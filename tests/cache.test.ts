import { assert, assertEquals } from "./support/assert.ts";
import { type Cache, MemoryCache, UpstashCache } from "../src/platform/cache.ts";
import { startTestServers } from "../harness/servers.ts";
import { delay } from "../harness/process.ts";

type Subject = { name: string; cache: Cache; elapse(seconds: number): Promise<void> };

async function subjects(): Promise<Subject[]> {
  let now = Date.now();
  const memory = new MemoryCache(() => now);
  const servers = await startTestServers();
  return [
    { name: "in-memory", cache: memory, elapse: (seconds) => Promise.resolve(void (now += seconds * 1000)) },
    {
      name: "Upstash (Redis)",
      cache: new UpstashCache(servers.upstashUrl, servers.upstashToken),
      elapse: (seconds) => delay(seconds * 1000 + 100),
    },
  ];
}

// Both implementations answer the same way: the service must not behave differently on the embedded default.
for (const { name, cache, elapse } of await subjects()) {
  const key = (what: string) => `cache-test:${name}:${what}:${crypto.randomUUID()}`;

  Deno.test(`${name} cache: setIfAbsent sets a key once, until it expires`, async () => {
    const k = key("once");
    assertEquals(await cache.setIfAbsent(k, 1), true);
    assertEquals(await cache.setIfAbsent(k, 1), false);
    assertEquals(await cache.exists(k), true);
    await elapse(1);
    assertEquals(await cache.exists(k), false);
    assertEquals(await cache.setIfAbsent(k, 1), true);
  });

  Deno.test(`${name} cache: a counter's window starts at its first increment and is not extended`, async () => {
    const k = key("counter");
    assertEquals((await cache.increment(k, 2)).count, 1);
    const second = await cache.increment(k, 2);
    assertEquals(second.count, 2);
    assert(second.resetSeconds > 0 && second.resetSeconds <= 2);
    await cache.decrement(k);
    assertEquals((await cache.increment(k, 60)).count, 2);
    await elapse(2);
    assertEquals((await cache.increment(k, 2)).count, 1);
  });

  Deno.test(`${name} cache: ping answers`, async () => {
    await cache.ping();
  });
}
