import type { Cache } from "../platform/cache.ts";
import { AppError } from "../http/problem.ts";

const maxFailures = 10;
const windowSeconds = 15 * 60;
const keyOf = (email: string) => `login:failures:${email.toLowerCase()}`;

/**
 * Fixed window of failed logins per email. It fails open: with the cache down a login is slower to
 * brute-force-protect, but users can still log in.
 */
export async function assertLoginAllowed(cache: Cache, email: string): Promise<void> {
  const { count, resetSeconds } = await cache.count(keyOf(email)).catch(() => ({ count: 0, resetSeconds: 0 }));
  if (count >= maxFailures) {
    throw new AppError("RATE_LIMITED", `Too many failed logins for this email; retry in ${resetSeconds} s`, {
      headers: { "Retry-After": String(Math.max(resetSeconds, 1)) },
    });
  }
}

export async function recordLoginFailure(cache: Cache, email: string): Promise<void> {
  await cache.increment(keyOf(email), windowSeconds).catch(() => {});
}
