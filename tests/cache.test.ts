import { assert, assertEquals } from "./support/assert.ts";
import { type Cache, CacheFullError, type Counted, MemoryCache, UpstashCache } from "../src/platform/cache.ts";
import { startTestServers } from "../harness/servers.ts";
import { startRedis } from "../harness/redis.ts";
import { startUpstashProxy } from "../harness/upstash-proxy.ts";
import { RespConnection } from "../harness/resp.ts";
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

  Deno.test(`${name} cache: a counter's window starts at its first count and is not extended`, async () => {
    const k = key("counter");
    const count = (limit: number, seconds = 2) => cache.countWithin([{ key: k, limit }], seconds);
    assertEquals(await count(2), { counted: true });
    assertEquals(await count(2), { counted: true });
    const refused = await count(2) as Extract<Counted, { counted: false }>;
    assertEquals([refused.counted, refused.refusedBy], [false, k]);
    assert(refused.resetSeconds > 0 && refused.resetSeconds <= 2);
    await cache.decrement(k);
    assertEquals(await count(2, 60), { counted: true }, "a decrement gives one place back");
    assertEquals((await count(2, 60)).counted, false, "and keeps the 2-second window");
    await elapse(2);
    assertEquals(await count(1), { counted: true }, "a new window begins");
  });

  Deno.test(`${name} cache: countWithin counts every counter or none, so a refused attempt writes nothing`, async () => {
    const [full, other, fresh] = [key("full"), key("other"), key("fresh")];
    for (let i = 0; i < 2; i++) await cache.countWithin([{ key: full, limit: 2 }, { key: other, limit: 9 }], 60);
    for (let i = 0; i < 5; i++) {
      const refused = await cache.countWithin([{ key: other, limit: 9 }, { key: full, limit: 2 }, {
        key: fresh,
        limit: 9,
      }], 60);
      assertEquals(refused.counted ? undefined : refused.refusedBy, full);
    }
    assertEquals(await cache.take(fresh), undefined, "a refusal creates no key");
    assertEquals(await cache.take(other), "2", "nor counts on the others");
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

Deno.test("in-memory cache: it never holds more than its bound of keys", async () => {
  const cache = new MemoryCache(Date.now, { maxEntries: 1_000 });
  for (let i = 0; i < 20_000; i++) {
    await cache.countWithin([{ key: `flood:${i}`, limit: 10 }], 900);
    if (i % 997 === 0) assert(cache.size <= 1_000, `${cache.size} keys after ${i + 1} inserts`);
  }
  assert(cache.size <= 1_000 && cache.size >= 900, `${cache.size} keys`);
});

Deno.test("in-memory cache: at the bound a flood of fresh keys pushes out neither a counter many attempts built up nor a session", async () => {
  let now = 0;
  const cache = new MemoryCache(() => now, { maxEntries: 1_000 });
  const victim = [{ key: "login:{203.0.113.66}:failures:victim", limit: 10 }];
  for (let i = 0; i < 10; i++) assertEquals((await cache.countWithin(victim, 900)).counted, true);
  await cache.set("session:victim", "jti", 7 * 24 * 3600);
  // Fresh counters from ever new addresses, each one attempt: ten times the bound, over ten minutes.
  for (let i = 0; i < 10_000; i++) {
    now += 60;
    await cache.countWithin([{ key: `login:{198.51.${i}}:attempts`, limit: 100 }], 900);
  }
  assert(cache.size <= 1_000, `${cache.size} keys`);
  assertEquals((await cache.countWithin(victim, 900)).counted, false, "the victim's failures were evicted");
  assertEquals(await cache.take("session:victim"), "jti");
});

Deno.test("Upstash (Redis) cache: a Redis out of memory (noeviction) refuses writes as CacheFullError, not as an outage", async () => {
  const redis = await startRedis();
  const connection = await RespConnection.open(redis.port);
  const proxy = await startUpstashProxy(redis.port);
  try {
    await connection.send([["CONFIG", "SET", "maxmemory-policy", "noeviction"], ["CONFIG", "SET", "maxmemory", "1"]]);
    const cache = new UpstashCache(proxy.url, proxy.token);
    const failure = (operation: Promise<unknown>) => operation.then(() => undefined, (error) => error);
    const count = cache.countWithin([{ key: "login:{local}:attempts", limit: 100 }], 900);
    assert((await failure(count)) instanceof CacheFullError);
    assert((await failure(cache.set("session:x", "jti", 60))) instanceof CacheFullError);
    await cache.ping();
  } finally {
    connection.close();
    await proxy.stop();
    await redis.stop();
  }
});
