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

const loginKey = (email: string) => `login:failures:${email.toLowerCase()}`;

/** Failed logins per email, LOGIN_LIMIT per 15 minutes: each attempt counts as a failure until it succeeds. */
export function takeLoginAttempt(cache: Cache, config: { LOGIN_LIMIT: number }, email: string): Promise<void> {
  return takeAttempt(cache, loginKey(email), {
    limit: config.LOGIN_LIMIT,
    windowSeconds: 15 * 60,
    refusal: "Too many failed logins for this email",
  });
}

/** A successful login is not a failure: its attempt no longer counts. */
export async function returnLoginAttempt(cache: Cache, email: string): Promise<void> {
  await cache.decrement(loginKey(email)).catch(() => {});
}

/** Registrations per client address and hour; without an address (an in-process call) nothing is counted. */
export async function takeRegistrationAttempt(cache: Cache, address: string | undefined, limit: number) {
  if (!address) return;
  await takeAttempt(cache, `register:attempts:${address}`, {
    limit,
    windowSeconds: 3600,
    refusal: "Too many registrations from this address",
  });
}
