import ipaddr from "ipaddr.js";
import { type Cache, CacheFullError, type Counter } from "../platform/cache.ts";
import { AppError } from "../http/problem.ts";
import { serverMac } from "./server-mac.ts";

type LimiterDeps = { cache: Cache; config: { JWT_SECRET: string } };

/**
 * Counts one attempt on every counter before the attempt does any work, so a burst of concurrent attempts cannot all
 * slip under a limit; past any limit → 429 with Retry-After, and nothing is counted: a refused attempt writes
 * nothing. With the cache down the attempt goes ahead (slower to protect, but nobody is locked out). A full cache is
 * another matter, since a flood of keys can cause it: a limiter that guards passwords or accounts refuses then (503)
 * rather than give way to whoever filled it.
 */
async function takeAttempt(
  cache: Cache,
  counters: Counter[],
  { windowSeconds, refusal, whenFull }: {
    windowSeconds: number;
    refusal: (key: string) => string;
    whenFull: "refuse" | "admit";
  },
): Promise<AppError | undefined> {
  let counted;
  try {
    counted = await cache.countWithin(counters, windowSeconds);
  } catch (error) {
    if (error instanceof CacheFullError && whenFull === "refuse") {
      throw new AppError("SERVICE_UNAVAILABLE", "The rate limiter cannot count right now; retry later", {
        headers: { "Retry-After": "60" },
      });
    }
    return undefined;
  }
  if (counted.counted) return undefined;
  return new AppError("RATE_LIMITED", `${refusal(counted.refusedBy)}; retry in ${counted.resetSeconds} s`, {
    headers: { "Retry-After": String(counted.resetSeconds) },
  });
}

/** The longest text form of an IP address: anything longer in its place is cut here, so keys stay short. */
const longestAddress = 45;

/**
 * Who a limit counts: an IPv4 address, or an IPv6 client by its /64 (one subscriber usually holds a whole /64, so
 * counting single IPv6 addresses would let them walk around any limit); an IPv4-mapped IPv6 address counts as IPv4.
 * An in-process call (`app.request`) has no connection, hence no address: all of them count as one client.
 */
function clientKey(address: string | undefined): string {
  if (!address) return "local";
  if (!ipaddr.isValid(address)) return address.slice(0, longestAddress);
  const ip = ipaddr.process(address);
  if (ip instanceof ipaddr.IPv4) return ip.toString();
  return `${new ipaddr.IPv6([...ip.parts.slice(0, 4), 0, 0, 0, 0])}/64`;
}

const loginWindowSeconds = 15 * 60;

/**
 * The keys of one client's logins: its attempts, and its failures for an email, named by a MAC of the email, so a
 * key is some 60 bytes whatever the email and the cache never holds one. Both carry the client as a Redis hash tag,
 * so the two counters of an attempt live on one shard and are counted in one script.
 */
async function loginKeys({ config }: LimiterDeps, email: string, address: string | undefined) {
  const client = clientKey(address);
  const account = await serverMac(config.JWT_SECRET, "limiter-key", email.toLowerCase(), 16);
  return { attempts: `login:{${client}}:attempts`, failures: `login:{${client}}:failures:${account}` };
}

type LoginLimits = { LOGIN_LIMIT: number; LOGIN_ADDRESS_LIMIT: number; JWT_SECRET: string };

/** A password check counted by `takeLoginAttempt`, until its outcome is known. */
export type LoginAttempt = {
  /** The password was right: the attempt is no failure of the email (it still counts against the address). */
  succeeded(): Promise<void>;
  /** The password was never checked (the hashing queue full, the database down): as if the attempt was never made. */
  withdraw(): Promise<void>;
};

/**
 * Counts a password check: against the client's address (LOGIN_ADDRESS_LIMIT attempts per 15 minutes, whatever
 * the emails) and as a failure of this email from this address (LOGIN_LIMIT per 15 minutes) until it succeeds.
 * Failures count per address so that guesses from one place cannot lock the account's owner out everywhere.
 * Call it before any hashing: past either limit the attempt costs no bcrypt work, and counts nowhere.
 */
export async function takeLoginAttempt(
  deps: { cache: Cache; config: LoginLimits },
  email: string,
  address: string | undefined,
): Promise<LoginAttempt> {
  const { cache, config } = deps;
  const keys = await loginKeys(deps, email, address);
  const refusal = await takeAttempt(cache, [
    { key: keys.attempts, limit: config.LOGIN_ADDRESS_LIMIT },
    { key: keys.failures, limit: config.LOGIN_LIMIT },
  ], {
    windowSeconds: loginWindowSeconds,
    whenFull: "refuse",
    refusal: (key) =>
      key === keys.attempts
        ? "Too many login attempts from this address"
        : "Too many failed logins for this email from this address",
  });
  if (refusal) throw refusal;
  const giveBack = (key: string) => cache.decrement(key).catch(() => {});
  return {
    succeeded: () => giveBack(keys.failures),
    withdraw: async () => void await Promise.all([giveBack(keys.failures), giveBack(keys.attempts)]),
  };
}

/** Registrations per client address and hour; without an address (an in-process call) nothing is counted. */
export async function takeRegistrationAttempt({ cache }: LimiterDeps, address: string | undefined, limit: number) {
  if (!address) return;
  const refusal = await takeAttempt(cache, [{ key: `register:{${clientKey(address)}}`, limit }], {
    windowSeconds: 3600,
    whenFull: "refuse",
    refusal: () => "Too many registrations from this address",
  });
  if (refusal) throw refusal;
}

/**
 * A signed-in user's writes per minute (WRITE_LIMIT): the refusal, if this one is past it, for the caller to raise
 * unless the user turns out to be an admin. It lets writes through when the cache cannot count, even when full:
 * writes are signed in, and every row they make has a bound of its own.
 */
export function writeRefusal({ cache }: LimiterDeps, userId: number, limit: number): Promise<AppError | undefined> {
  return takeAttempt(cache, [{ key: `writes:{user:${userId}}`, limit }], {
    windowSeconds: 60,
    whenFull: "admit",
    refusal: () => `More than ${limit} writes in a minute`,
  });
}

/** Password hashes in flight per client, in this process; an entry exists only while its client has one. */
const hashing = new Map<string, number>();

/**
 * Runs `work` (a login, registration or password change: its hashing) in one of the client's `limit` places, so one
 * address cannot fill the hashing queue that serves everyone; with none free → 429 at once, before anything is
 * counted or written. The map holds no more entries than there are hashes in flight, which the queue bounds. Without
 * an address (an in-process call) only the queue's own limit applies.
 */
export async function withHashingPlace<T>(
  limit: number,
  address: string | undefined,
  work: () => Promise<T>,
): Promise<T> {
  if (!address) return await work();
  const client = clientKey(address);
  const held = hashing.get(client) ?? 0;
  if (held >= limit) {
    throw new AppError("RATE_LIMITED", "Too many password checks from this address under way; retry in a moment", {
      headers: { "Retry-After": "1" },
    });
  }
  hashing.set(client, held + 1);
  try {
    return await work();
  } finally {
    const left = hashing.get(client)! - 1;
    if (left === 0) hashing.delete(client);
    else hashing.set(client, left);
  }
}

/** Clients with a password hash in flight in this process: the size of the map `withHashingPlace` keeps. */
export const clientsHashing = (): number => hashing.size;
