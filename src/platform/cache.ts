import { Redis } from "@upstash/redis";

/** The few key-value operations the service needs; every key expires. */
export interface Cache {
  /** Sets the key unless it exists; true when this call set it. */
  setIfAbsent(key: string, ttlSeconds: number): Promise<boolean>;
  exists(key: string): Promise<boolean>;
  /** Adds one to a counter whose window starts at its first increment. */
  increment(key: string, windowSeconds: number): Promise<{ count: number; resetSeconds: number }>;
  /** Takes one off an existing counter, keeping its window. */
  decrement(key: string): Promise<void>;
  ping(): Promise<void>;
}

type Entry = { value: number; expiresAt: number };

/** The embedded default: one process, entries forgotten on restart. */
export class MemoryCache implements Cache {
  #entries = new Map<string, Entry>();
  constructor(private readonly now: () => number = Date.now) {}

  #live(key: string): Entry | undefined {
    const entry = this.#entries.get(key);
    if (entry && entry.expiresAt <= this.now()) {
      this.#entries.delete(key);
      return undefined;
    }
    return entry;
  }

  #sweep() {
    if (this.#entries.size < 10_000) return;
    for (const key of this.#entries.keys()) this.#live(key);
  }

  setIfAbsent(key: string, ttlSeconds: number) {
    if (this.#live(key)) return Promise.resolve(false);
    this.#sweep();
    this.#entries.set(key, { value: 1, expiresAt: this.now() + ttlSeconds * 1000 });
    return Promise.resolve(true);
  }

  exists(key: string) {
    return Promise.resolve(this.#live(key) !== undefined);
  }

  increment(key: string, windowSeconds: number) {
    const entry = this.#live(key) ?? { value: 0, expiresAt: this.now() + windowSeconds * 1000 };
    entry.value += 1;
    this.#sweep();
    this.#entries.set(key, entry);
    return Promise.resolve(this.#counter(entry));
  }

  #counter(entry: Entry) {
    return { count: entry.value, resetSeconds: Math.ceil((entry.expiresAt - this.now()) / 1000) };
  }

  decrement(key: string) {
    const entry = this.#live(key);
    if (entry) entry.value -= 1;
    return Promise.resolve();
  }

  ping() {
    return Promise.resolve();
  }
}

// fetch has no timeout of its own: without one, an endpoint that accepts and never answers hangs every login.
const requestTimeoutMs = 1000;

/** Redis over Upstash's REST protocol: shared by every instance, works on the edge. */
export class UpstashCache implements Cache {
  readonly #redis: Redis;
  constructor(url: string, token: string) {
    this.#redis = new Redis({
      url,
      token,
      retry: { retries: 1, backoff: () => 50 },
      signal: () => AbortSignal.timeout(requestTimeoutMs),
    });
  }

  async setIfAbsent(key: string, ttlSeconds: number) {
    return (await this.#redis.set(key, 1, { nx: true, ex: ttlSeconds })) === "OK";
  }

  async exists(key: string) {
    return (await this.#redis.exists(key)) > 0;
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
    await this.#redis.decr(key);
  }

  async ping() {
    await this.#redis.ping();
  }
}

export function openCache(config: { UPSTASH_REDIS_REST_URL?: string; UPSTASH_REDIS_REST_TOKEN?: string }): Cache {
  const { UPSTASH_REDIS_REST_URL: url, UPSTASH_REDIS_REST_TOKEN: token } = config;
  return url && token ? new UpstashCache(url, token) : new MemoryCache();
}
