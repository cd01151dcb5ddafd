import { sign, verify } from "hono/jwt";
import type { Cache } from "../platform/cache.ts";
import { UnavailableError } from "../platform/unavailable.ts";
import { AppError } from "../http/problem.ts";

type TokenConfig = { JWT_SECRET: string; ACCESS_TTL: number; REFRESH_TTL: number };
type TokenDeps = { config: TokenConfig; cache: Cache; clock: () => Date };

export type TokenPair = { access: string; refresh: string; token_type: "Bearer"; expires_in: number };

type AccessClaims = { sub: string; typ: "access"; iat: number; exp: number };
export type RefreshClaims = { sub: string; typ: "refresh"; jti: string; fam: string; iat: number; exp: number };

const algorithm = "HS256";
const spentKey = (jti: string) => `refresh:spent:${jti}`;
const revokedFamilyKey = (family: string) => `refresh:revoked-family:${family}`;

const unauthenticated = (detail = "The token is missing, invalid, expired or revoked") =>
  new AppError("UNAUTHENTICATED", detail);

const seconds = (date: Date) => Math.floor(date.getTime() / 1000);

const keys = new Map<string, Promise<CryptoKey>>();

/** The secret imported once: hono/jwt would import a string secret again on every sign and verify. */
function keyOf(secret: string): Promise<CryptoKey> {
  let key = keys.get(secret);
  if (!key) {
    const hmac = { name: "HMAC", hash: "SHA-256" };
    key = crypto.subtle.importKey("raw", new TextEncoder().encode(secret), hmac, false, ["sign", "verify"]);
    keys.set(secret, key);
  }
  return key;
}

/** A new access + refresh pair; the refresh token joins `family` (a login starts a new one). */
export async function issueTokens(
  { config, clock }: TokenDeps,
  userId: number,
  family: string = crypto.randomUUID(),
): Promise<TokenPair> {
  const iat = seconds(clock());
  const access: AccessClaims = { sub: String(userId), typ: "access", iat, exp: iat + config.ACCESS_TTL };
  const refresh: RefreshClaims = {
    sub: String(userId),
    typ: "refresh",
    jti: crypto.randomUUID(),
    fam: family,
    iat,
    exp: iat + config.REFRESH_TTL,
  };
  return {
    access: await sign(access, await keyOf(config.JWT_SECRET), algorithm),
    refresh: await sign(refresh, await keyOf(config.JWT_SECRET), algorithm),
    token_type: "Bearer",
    expires_in: config.ACCESS_TTL,
  };
}

async function decode<T extends AccessClaims | RefreshClaims>(
  { config, clock }: TokenDeps,
  token: string,
  typ: T["typ"],
): Promise<T> {
  let claims: Record<string, unknown>;
  try {
    claims = await verify(token, await keyOf(config.JWT_SECRET), { alg: algorithm, exp: false, iat: false });
  } catch {
    throw unauthenticated();
  }
  // Time claims are checked against the injected clock, not the wall clock, so tests can move time.
  if (claims.typ !== typ || typeof claims.sub !== "string" || typeof claims.exp !== "number") throw unauthenticated();
  if (claims.exp <= seconds(clock())) throw unauthenticated("The token has expired");
  return claims as T;
}

/** The user id of a valid access token; a refresh token is never accepted here. */
export async function verifyAccessToken(deps: TokenDeps, token: string): Promise<number> {
  return Number((await decode<AccessClaims>(deps, token, "access")).sub);
}

/** The claims of a well-signed, unexpired refresh token; whether it is still unspent is not checked here. */
export function readRefreshToken(deps: TokenDeps, token: string): Promise<RefreshClaims> {
  return decode<RefreshClaims>(deps, token, "refresh");
}

const remainingTtl = (deps: TokenDeps, claims: RefreshClaims) => Math.max(1, claims.exp - seconds(deps.clock()));

/** Guards the revocation store: if it cannot answer, refuse (fail closed) rather than accept a revoked token. */
async function checked<T>(operation: Promise<T>): Promise<T> {
  try {
    return await operation;
  } catch (error) {
    throw error instanceof AppError ? error : new UnavailableError("cache", { cause: error });
  }
}

/**
 * Spends a refresh token exactly once. A second use of a spent token means it leaked: the whole
 * family (every token rotated from the same login) is revoked.
 */
export async function spendRefreshToken(deps: TokenDeps, claims: RefreshClaims): Promise<void> {
  const ttl = remainingTtl(deps, claims);
  await checked((async () => {
    if (await deps.cache.exists(revokedFamilyKey(claims.fam))) throw unauthenticated();
    if (!(await deps.cache.setIfAbsent(spentKey(claims.jti), ttl))) {
      await deps.cache.setIfAbsent(revokedFamilyKey(claims.fam), deps.config.REFRESH_TTL);
      throw unauthenticated("The refresh token was already used; its session is revoked");
    }
  })());
}

/** Ends the session a refresh token belongs to: it and every token rotated from it stop working. */
export async function revokeRefreshToken(deps: TokenDeps, claims: RefreshClaims): Promise<void> {
  await checked(deps.cache.setIfAbsent(revokedFamilyKey(claims.fam), deps.config.REFRESH_TTL));
}
