import ipaddr from "ipaddr.js";
import type { Cache } from "../platform/cache.ts";
import { AppError } from "../http/problem.ts";

type Limit = { limit: number; windowSeconds: number; refusal: string };

/**
 * Counts one attempt in a fixed window before the attempt does any work, so a burst of concurrent attempts
 * cannot all slip under the limit; past the limit → 429 with Retry-After. It fails open: with the cache down
 * the attempt goes ahead (slower to protect, but nobody is locked out).
 */
async function takeAttempt(cache: Cache, key: string, { limit, windowSeconds, refusal }: Limit): Promise<void> {
  const { count, resetSeconds } = await cache.increment(key, windowSeconds)
    .catch(() => ({ count: 0, resetSeconds: 0 }));
  if (count > limit) {
    throw new AppError("RATE_LIMITED", `${refusal}; retry in ${resetSeconds} s`, {
      headers: { "Retry-After": String(Math.max(resetSeconds, 1)) },
    });
  }
}

/**
 * Who a limit counts: an IPv4 address, or an IPv6 client by its /64 (one subscriber usually holds a whole /64, so
 * counting single IPv6 addresses would let them walk around any limit); an IPv4-mapped IPv6 address counts as IPv4.
 * An in-process call (`app.request`) has no connection, hence no address: all of them count as one client.
 */
function clientKey(address: string | undefined): string {
  if (!address) return "local";
  if (!ipaddr.isValid(address)) return address;
  const ip = ipaddr.process(address);
  if (ip instanceof ipaddr.IPv4) return ip.toString();
  return `${new ipaddr.IPv6([...ip.parts.slice(0, 4), 0, 0, 0, 0])}/64`;
}

const loginWindowSeconds = 15 * 60;
const failuresKey = (email: string, client: string) => `login:failures:${client}:${email.toLowerCase()}`;

type LoginLimits = { LOGIN_LIMIT: number; LOGIN_ADDRESS_LIMIT: number };

/**
 * Counts a password check: against the client's address (LOGIN_ADDRESS_LIMIT attempts per 15 minutes, whatever
 * the emails) and as a failure of this email from this address (LOGIN_LIMIT per 15 minutes) until it succeeds.
 * Failures count per address so that guesses from one place cannot lock the account's owner out everywhere.
 * Call it before any hashing: past either limit the attempt costs no bcrypt work.
 */
export async function takeLoginAttempt(
  cache: Cache,
  config: LoginLimits,
  email: string,
  address: string | undefined,
): Promise<void> {
  const client = clientKey(address);
  const window = { windowSeconds: loginWindowSeconds };
  await Promise.all([
    takeAttempt(cache, `login:address:${client}`, {
      ...window,
      limit: config.LOGIN_ADDRESS_LIMIT,
      refusal: "Too many login attempts from this address",
    }),
    takeAttempt(cache, failuresKey(email, client), {
      ...window,
      limit: config.LOGIN_LIMIT,
      refusal: "Too many failed logins for this email from this address",
    }),
  ]);
}

/** A successful password check is not a failure: its attempt no longer counts against the email. */
export async function returnLoginAttempt(cache: Cache, email: string, address: string | undefined): Promise<void> {
  await cache.decrement(failuresKey(email, clientKey(address))).catch(() => {});
}

/** Registrations per client address and hour; without an address (an in-process call) nothing is counted. */
export async function takeRegistrationAttempt(cache: Cache, address: string | undefined, limit: number) {
  if (!address) return;
  await takeAttempt(cache, `register:attempts:${clientKey(address)}`, {
    limit,
    windowSeconds: 3600,
    refusal: "Too many registrations from this address",
  });
}
