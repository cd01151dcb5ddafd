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

  Deno.test(`${name} cache: a value is kept until it expires, and take returns it once`, async () => {
    const [kept, taken] = [key("kept"), key("taken")];
    await cache.set(kept, "a", 1);
    await cache.set(taken, "b", 60);
    assertEquals(await cache.take(taken), "b");
    assertEquals(await cache.take(taken), undefined);
    await elapse(1);
    assertEquals(await cache.take(kept), undefined);
  });

  Deno.test(`${name} cache: compareAndSet replaces only the expected value, with the new expiry`, async () => {
    const k = key("cas");
    assertEquals(await cache.compareAndSet(k, "1", "2", 60), false, "a missing key is not created");
    assertEquals(await cache.take(k), undefined);
    await cache.set(k, "1", 60);
    assertEquals(await cache.compareAndSet(k, "0", "2", 60), false);
    assertEquals(await cache.compareAndSet(k, "1", "2", 1), true);
    assertEquals(await cache.compareAndSet(k, "1", "3", 60), false, "the old value was already replaced");
    await elapse(1);
    assertEquals(await cache.take(k), undefined, "the new expiry applies");
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

  Deno.test(`${name} cache: decrementing a missing counter leaves no key behind`, async () => {
    const k = key("gone");
    await cache.decrement(k);
    assertEquals(await cache.take(k), undefined);
  });

  Deno.test(`${name} cache: ping answers`, async () => {
    await cache.ping();
  });
}

Deno.test("in-memory cache: past 10,000 keys an insert does not look at every key (the sweep is amortised)", async () => {
  let clockReads = 0;
  const cache = new MemoryCache(() => (clockReads++, 0));
  const inserts = 40_000;
  for (let i = 0; i < inserts; i++) await cache.set(`key${i}`, "v", 60);
  // Each insert reads the clock a bounded number of times on average; a sweep per insert would read it
  // once per key held, some 600 million times here.
  assert(clockReads < 10 * inserts, `${clockReads} clock reads for ${inserts} inserts`);
  assertEquals(cache.size, inserts);
});
