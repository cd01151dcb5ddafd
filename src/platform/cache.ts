import { Redis } from "@upstash/redis";

/** The few key-value operations the service needs; every key it writes expires. */
export interface Cache {
  /** Adds one to a counter whose window starts at its first increment. */
  increment(key: string, windowSeconds: number): Promise<{ count: number; resetSeconds: number }>;
  /** Takes one off a counter that still exists, keeping its window; a missing counter stays missing. */
  decrement(key: string): Promise<void>;
  /** Stores `value` for `ttlSeconds`. */
  set(key: string, value: string, ttlSeconds: number): Promise<void>;
  /** Replaces the value with `next`, expiring in `ttlSeconds`, only if it is `expected`; true when it did. */
  compareAndSet(key: string, expected: string, next: string, ttlSeconds: number): Promise<boolean>;
  /** Deletes the key and returns the value it held, if any. */
  take(key: string): Promise<string | undefined>;
  ping(): Promise<void>;
}

type Entry = { value: string | number; expiresAt: number };

const smallestSweep = 10_000;

/** The embedded default: one process, entries forgotten on restart. */
export class MemoryCache implements Cache {
  #entries = new Map<string, Entry>();
  // Expired entries go when read, and in a sweep once the map has doubled since the last one, so an insert
  // costs O(1) on average however many keys are held (a sweep on every insert past a fixed size would not).
  #sweepAt = smallestSweep;
  constructor(private readonly now: () => number = Date.now) {}

  /** The number of live entries. */
  get size(): number {
    this.#dropExpired();
    return this.#entries.size;
  }

  #live(key: string): Entry | undefined {
    const entry = this.#entries.get(key);
    if (entry && entry.expiresAt <= this.now()) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry;
  }

  #dropExpired() {
    for (const key of this.#entries.keys()) this.#live(key);
  }

  #put(key: string, entry: Entry) {
    if (!this.#entries.has(key) && this.#entries.size >= this.#sweepAt) {
      this.#dropExpired();
      this.#sweepAt = Math.max(smallestSweep, 2 * this.#entries.size);
    }
    this.#entries.set(key, entry);
  }

  #expiry(ttlSeconds: number) {
    return this.now() + ttlSeconds * 1000;
  }

  increment(key: string, windowSeconds: number) {
    const entry = this.#live(key) ?? { value: 0, expiresAt: this.#expiry(windowSeconds) };
    entry.value = Number(entry.value) + 1;
    this.#put(key, entry);
    return Promise.resolve({ count: entry.value, resetSeconds: Math.ceil((entry.expiresAt - this.now()) / 1000) });
  }

  decrement(key: string) {
    const entry = this.#live(key);
    if (entry) entry.value = Number(entry.value) - 1;
    return Promise.resolve();
  }

  set(key: string, value: string, ttlSeconds: number) {
    this.#put(key, { value, expiresAt: this.#expiry(ttlSeconds) });
    return Promise.resolve();
  }

  compareAndSet(key: string, expected: string, next: string, ttlSeconds: number) {
    if (this.#live(key)?.value !== expected) return Promise.resolve(false);
    this.#put(key, { value: next, expiresAt: this.#expiry(ttlSeconds) });
    return Promise.resolve(true);
  }

  take(key: string) {
    const entry = this.#live(key);
    this.#entries.delete(key);
    return Promise.resolve(entry && String(entry.value));
  }

  ping() {
    return Promise.resolve();
  }
}

// fetch has no timeout of its own: without one, an endpoint that accepts and never answers hangs every login.
const requestTimeoutMs = 1000;

const compareAndSetScript = `
if redis.call("GET", KEYS[1]) == ARGV[1] then
  redis.call("SET", KEYS[1], ARGV[2], "EX", ARGV[3])
  return 1
end
return 0`;

// DECR alone would create a missing counter at -1 with no expiry: a key that never goes away.
const decrementScript = `
if redis.call("EXISTS", KEYS[1]) == 1 then redis.call("DECR", KEYS[1]) end
return 0`;

/** Redis over Upstash's REST protocol: shared by every instance, works on the edge. */
export class UpstashCache implements Cache {
  readonly #redis: Redis;
  readonly #compareAndSet: ReturnType<Redis["createScript"]>;
  readonly #decrement: ReturnType<Redis["createScript"]>;

  constructor(url: string, token: string) {
    this.#redis = new Redis({
      url,
      token,
      // Values are token ids and counters: read them back as stored, never JSON-parsed.
      automaticDeserialization: false,
      retry: { retries: 1, backoff: () => 50 },
      signal: () => AbortSignal.timeout(requestTimeoutMs),
    });
    // Scripts run by their SHA (EVALSHA), sent in full only the first time a server has not seen them.
    this.#compareAndSet = this.#redis.createScript(compareAndSetScript);
    this.#decrement = this.#redis.createScript(decrementScript);
  }

  async increment(key: string, windowSeconds: number) {
    const [count, , ttl] = await this.#redis.multi()
      .incr(key)
      .expire(key, windowSeconds, "NX")
      .ttl(key)
      .exec<[number, number, number]>();
    return { count, resetSeconds: Math.max(ttl, 0) };
  }

  async decrement(key: string) {
    await this.#decrement.exec([key], []);
  }

  async set(key: string, value: string, ttlSeconds: number) {
    await this.#redis.set(key, value, { ex: ttlSeconds });
  }

  async compareAndSet(key: string, expected: string, next: string, ttlSeconds: number) {
    return (await this.#compareAndSet.exec([key], [expected, next, String(ttlSeconds)])) === 1;
  }

  async take(key: string) {
    return (await this.#redis.getdel<string>(key)) ?? undefined;
  }

  async ping() {
    await this.#redis.ping();
  }
}

export function openCache(config: { UPSTASH_REDIS_REST_URL?: string; UPSTASH_REDIS_REST_TOKEN?: string }): Cache {
  const { UPSTASH_REDIS_REST_URL: url, UPSTASH_REDIS_REST_TOKEN: token } = config;
  return url && token ? new UpstashCache(url, token) : new MemoryCache();
}
