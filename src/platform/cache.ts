import { Redis } from "@upstash/redis";

/** A limit's counter: at most `limit` counts per window. */
export type Counter = { key: string; limit: number };

/** What `countWithin` did: counted, or refused by the first counter at its limit, which resets in `resetSeconds`. */
export type Counted = { counted: true } | { counted: false; refusedBy: string; resetSeconds: number };

/** The few key-value operations the service needs; every key it writes expires. */
export interface Cache {
  /**
   * Adds one to every counter, or to none when any is at its limit: a refused attempt writes nothing. A counter's
   * window starts at its first count and is not extended.
   */
  countWithin(counters: readonly Counter[], windowSeconds: number): Promise<Counted>;
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

/**
 * The cache is out of room and refuses writes (Redis `noeviction` at `maxmemory`, Upstash at its size limit): unlike
 * an outage, this is a state a flood of keys can cause, so a limiter must not give way to it.
 */
export class CacheFullError extends Error {
  override name = "CacheFullError";
}

type Entry = { value: string | number; expiresAt: number };

/** The memory cache's default bound: some 100,000 keys of under 100 bytes, a few tens of megabytes at most. */
export const defaultMaxEntries = 100_000;
const smallestSweep = 10_000;
/** A sweep at the bound leaves this share of it in use, so the next sweep is a tenth of the bound away. */
const keptAtBound = 0.9;

/**
 * What an entry is worth keeping: a counter's count (a victim's failures weigh what it took to make them), anything
 * else (a session) one login. At the bound the lightest go first, so a flood of fresh keys, each of weight one,
 * cannot push out a counter that many attempts built up.
 */
const weightOf = (entry: Entry) => typeof entry.value === "number" ? entry.value : 1;
const lightestFirst = ([, a]: [string, Entry], [, b]: [string, Entry]) =>
  weightOf(a) - weightOf(b) || a.expiresAt - b.expiresAt;

/** The embedded default: one process, at most `maxEntries` keys, entries forgotten on restart. */
export class MemoryCache implements Cache {
  #entries = new Map<string, Entry>();
  readonly #maxEntries: number;
  // Expired entries go when read, and in a sweep once the map has doubled since the last one (or reached the bound),
  // so an insert costs O(1) on average however many keys are held (a sweep on every insert would not).
  #sweepAt: number;

  constructor(private readonly now: () => number = Date.now, { maxEntries = defaultMaxEntries } = {}) {
    this.#maxEntries = maxEntries;
    this.#sweepAt = Math.min(smallestSweep, maxEntries);
  }

  /** The number of live entries. */
  get size(): number {
    this.#dropExpired();
    return this.#entries.size;
  }

  /** The live keys, as Redis's KEYS * would list them. */
  keys(): string[] {
    this.#dropExpired();
    return [...this.#entries.keys()];
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

  /** Makes room for `keys` new keys: past the sweep point, expired entries go, then the lightest down to 90%. */
  #makeRoom(keys: string[]) {
    const added = keys.filter((key) => !this.#entries.has(key)).length;
    if (added === 0 || this.#entries.size + added <= this.#sweepAt) return;
    this.#dropExpired();
    const kept = Math.floor(this.#maxEntries * keptAtBound) - added;
    if (this.#entries.size > kept) {
      const evicted = [...this.#entries].sort(lightestFirst).slice(0, this.#entries.size - kept);
      for (const [key] of evicted) this.#entries.delete(key);
    }
    this.#sweepAt = Math.min(this.#maxEntries, Math.max(smallestSweep, 2 * this.#entries.size));
  }

  #put(key: string, entry: Entry) {
    this.#makeRoom([key]);
    this.#entries.set(key, entry);
  }

  #expiry(ttlSeconds: number) {
    return this.now() + ttlSeconds * 1000;
  }

  countWithin(counters: readonly Counter[], windowSeconds: number): Promise<Counted> {
    const seconds = (entry: Entry) => Math.max(1, Math.ceil((entry.expiresAt - this.now()) / 1000));
    for (const { key, limit } of counters) {
      const entry = this.#live(key);
      if (entry && Number(entry.value) >= limit) {
        return Promise.resolve({ counted: false, refusedBy: key, resetSeconds: seconds(entry) });
      }
    }
    this.#makeRoom(counters.map(({ key }) => key));
    for (const { key } of counters) {
      const entry = this.#live(key) ?? { value: 0, expiresAt: this.#expiry(windowSeconds) };
      entry.value = Number(entry.value) + 1;
      this.#entries.set(key, entry);
    }
    return Promise.resolve({ counted: true });
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

// Every counter is checked before any is counted, so a refusal writes nothing; INCR of a new key starts its window.
const countWithinScript = `
for i, key in ipairs(KEYS) do
  local count = tonumber(redis.call("GET", key) or "0")
  if count >= tonumber(ARGV[i + 1]) then return {i, redis.call("TTL", key)} end
end
for _, key in ipairs(KEYS) do
  if redis.call("INCR", key) == 1 then redis.call("EXPIRE", key, ARGV[1]) end
end
return {0, 0}`;

// DECR alone would create a missing counter at -1 with no expiry: a key that never goes away.
const decrementScript = `
if redis.call("EXISTS", KEYS[1]) == 1 then redis.call("DECR", KEYS[1]) end
return 0`;

// Redis refuses a write at maxmemory under noeviction with "OOM …"; Upstash past its size limit with a quota error.
const fullCache = /\bOOM command not allowed|capacity quota exceeded/i;

/** A write's answer, with a refusal for want of room told apart from an outage. */
async function writing<T>(operation: Promise<T>): Promise<T> {
  try {
    return await operation;
  } catch (error) {
    if (error instanceof Error && fullCache.test(error.message)) throw new CacheFullError(error.message);
    throw error;
  }
}

/** Redis over Upstash's REST protocol: shared by every instance, works on the edge. */
export class UpstashCache implements Cache {
  readonly #redis: Redis;
  readonly #compareAndSet: ReturnType<Redis["createScript"]>;
  readonly #decrement: ReturnType<Redis["createScript"]>;
  readonly #countWithin: ReturnType<Redis["createScript"]>;

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
    this.#countWithin = this.#redis.createScript(countWithinScript);
  }

  async countWithin(counters: readonly Counter[], windowSeconds: number): Promise<Counted> {
    const keys = counters.map(({ key }) => key);
    const limits = counters.map(({ limit }) => String(limit));
    const answer = await writing(this.#countWithin.exec(keys, [String(windowSeconds), ...limits]));
    const [refusedBy, ttl] = answer as [number, number];
    if (refusedBy === 0) return { counted: true };
    return { counted: false, refusedBy: keys[refusedBy - 1], resetSeconds: Math.max(ttl, 1) };
  }

  async decrement(key: string) {
    await this.#decrement.exec([key], []);
  }

  async set(key: string, value: string, ttlSeconds: number) {
    await writing(this.#redis.set(key, value, { ex: ttlSeconds }));
  }

  async compareAndSet(key: string, expected: string, next: string, ttlSeconds: number) {
    return (await writing(this.#compareAndSet.exec([key], [expected, next, String(ttlSeconds)]))) === 1;
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
