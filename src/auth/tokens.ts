import { sign, verify } from "hono/jwt";
import { decodeHeader } from "hono/utils/jwt/jwt";
import type { Cache } from "../platform/cache.ts";
import { UnavailableError } from "../platform/unavailable.ts";
import { AppError } from "../http/problem.ts";

type TokenConfig = {
  JWT_SECRET: string;
  JWT_SECRET_PREVIOUS?: string;
  JWT_SECRET_ROTATED_AT?: Date;
  JWT_ISSUER: string;
  JWT_AUDIENCE: string;
  ACCESS_TTL: number;
  REFRESH_TTL: number;
  SESSION_MAX_AGE: number;
};
type TokenDeps = { config: TokenConfig; cache: Cache; clock: () => Date };

export type TokenPair = { access: string; refresh: string; token_type: "Bearer"; expires_in: number };

/** A login and every token rotated from it. */
export type Session = {
  userId: number;
  id: string;
  /** When its login happened. Milliseconds, not seconds: a password change must also end a session begun the same second. */
  startedAt: Date;
};

type Claims = {
  sub: string;
  iss: string;
  aud: string;
  /** The session id. */
  sid: string;
  /** The session's login, in milliseconds since the epoch (OIDC's `auth_time` is whole seconds). */
  auth_ms: number;
  iat: number;
  exp: number;
};
type AccessClaims = Claims & { typ: "access" };
export type RefreshClaims = Claims & { typ: "refresh"; jti: string };

/** The session a token belongs to. */
export const sessionOf = (claims: Claims): Session => ({
  userId: Number(claims.sub),
  id: claims.sid,
  startedAt: new Date(claims.auth_ms),
});

const algorithm = "HS256" as const;
/** The one cache key of a session: the id of its current refresh token; gone once the session is revoked. */
const sessionKey = (id: string) => `session:${id}`;

const unauthenticated = (detail = "The token is missing, invalid, expired or revoked") =>
  new AppError("UNAUTHENTICATED", detail);

const seconds = (date: Date) => Math.floor(date.getTime() / 1000);
const base64url = (bytes: Uint8Array) => bytes.toBase64({ alphabet: "base64url", omitPadding: true });

type SigningKey = {
  kid: string;
  jwk: JsonWebKey & { alg: typeof algorithm; kid: string };
  verifier: CryptoKey;
  /** Claims of tokens whose signature this key verified, by issuer, audience and token: checked once, not per request. */
  verified: Map<string, Record<string, unknown>>;
};

const keys = new Map<string, Promise<SigningKey>>();

/**
 * A secret as a key, with a key id derived from it so a token names the secret that signed it and `JWT_SECRET`
 * can rotate. Signing goes through a JWK, hono/jwt's way to put `kid` in the header; verifying, done on every
 * request, uses a CryptoKey imported once (hono/jwt would import a string secret again every time).
 */
function keyOf(secret: string): Promise<SigningKey> {
  let key = keys.get(secret);
  if (!key) {
    key = (async () => {
      const raw = new TextEncoder().encode(secret);
      const verifier = await crypto.subtle.importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, [
        "sign",
        "verify",
      ]);
      // An HMAC of a fixed label: names the secret without revealing anything about it.
      const label = await crypto.subtle.sign("HMAC", verifier, new TextEncoder().encode("kid"));
      const kid = base64url(new Uint8Array(label)).slice(0, 16);
      return { kid, verifier, jwk: { kty: "oct", k: base64url(raw), alg: algorithm, kid }, verified: new Map() };
    })();
    keys.set(secret, key);
  }
  return key;
}

/** The claims of a new pair; both expire by the end of their session at the latest. */
function claimsFor({ config, clock }: TokenDeps, session: Session) {
  const iat = seconds(clock());
  const sessionEnd = seconds(session.startedAt) + config.SESSION_MAX_AGE;
  const common = {
    sub: String(session.userId),
    iss: config.JWT_ISSUER,
    aud: config.JWT_AUDIENCE,
    sid: session.id,
    auth_ms: session.startedAt.getTime(),
    iat,
  };
  const access: AccessClaims = { ...common, typ: "access", exp: Math.min(iat + config.ACCESS_TTL, sessionEnd) };
  const refresh: RefreshClaims = {
    ...common,
    typ: "refresh",
    jti: crypto.randomUUID(),
    exp: Math.min(iat + config.REFRESH_TTL, sessionEnd),
  };
  return { access, refresh, refreshTtl: Math.max(1, refresh.exp - iat) };
}

async function signPair(deps: TokenDeps, { access, refresh }: { access: AccessClaims; refresh: RefreshClaims }) {
  const { jwk } = await keyOf(deps.config.JWT_SECRET);
  return {
    access: await sign(access, jwk),
    refresh: await sign(refresh, jwk),
    token_type: "Bearer",
    expires_in: access.exp - access.iat,
  } satisfies TokenPair;
}

/** Guards the session store: if it cannot answer, refuse (fail closed) rather than accept a revoked token. */
async function checked<T>(operation: Promise<T>): Promise<T> {
  try {
    return await operation;
  } catch (error) {
    throw error instanceof AppError ? error : new UnavailableError("cache", { cause: error });
  }
}

/**
 * A new session for a user who just proved who they are. It begins after `sessionsEnded` (their last password
 * change or logout-all), even within the same millisecond. Recording it is best effort: with the cache down the
 * login still succeeds, but its refresh token is refused later (a session the store never saw counts as ended).
 */
export async function issueTokens(deps: TokenDeps, userId: number, sessionsEnded?: Date | null): Promise<TokenPair> {
  const now = deps.clock();
  const startedAt = sessionsEnded && sessionsEnded >= now ? new Date(sessionsEnded.getTime() + 1) : now;
  const session = { userId, id: crypto.randomUUID(), startedAt };
  const claims = claimsFor(deps, session);
  await deps.cache.set(sessionKey(session.id), claims.refresh.jti, claims.refreshTtl).catch(() => {});
  return await signPair(deps, claims);
}

/**
 * Spends a refresh token for a new pair in the same session: the session's current token id is swapped for the
 * new one only if it is this token's. Anything else means this token was already spent and has leaked: the
 * session is revoked, so its current token stops working too.
 */
export async function rotateTokens(deps: TokenDeps, refresh: RefreshClaims): Promise<TokenPair> {
  const claims = claimsFor(deps, sessionOf(refresh));
  const key = sessionKey(refresh.sid);
  await checked((async () => {
    if (await deps.cache.compareAndSet(key, refresh.jti, claims.refresh.jti, claims.refreshTtl)) return;
    await deps.cache.take(key);
    throw unauthenticated("The refresh token was already used or its session has ended");
  })());
  return await signPair(deps, claims);
}

/** Ends the session of a refresh token; 401 if that token was not its session's current one. */
export async function endSession(deps: TokenDeps, refresh: RefreshClaims): Promise<void> {
  const current = await checked(deps.cache.take(sessionKey(refresh.sid)));
  if (current !== refresh.jti) throw unauthenticated("The refresh token was already used or its session has ended");
}

/** How many verified tokens each key remembers; the oldest is forgotten first. */
const verifiedKept = 10_000;

/**
 * The claims of a token signed with `key` for this issuer and audience. An HMAC check per request costs a tenth of
 * a confirmation's CPU, and a token's bytes never verify differently, so a verified token is remembered; the time
 * claims are still checked on every use.
 */
async function verifiedClaims(
  key: SigningKey,
  token: string,
  config: Pick<TokenConfig, "JWT_ISSUER" | "JWT_AUDIENCE">,
) {
  const id = `${config.JWT_ISSUER}\n${config.JWT_AUDIENCE}\n${token}`;
  let claims = key.verified.get(id);
  if (!claims) {
    const expected = { alg: algorithm, iss: config.JWT_ISSUER, aud: config.JWT_AUDIENCE, exp: false, iat: false };
    claims = await verify(token, key.verifier, expected);
    if (key.verified.size >= verifiedKept) key.verified.delete(key.verified.keys().next().value!);
    key.verified.set(id, claims);
  }
  return claims;
}

/** How far another instance's clock may run ahead of this one's: a token it just issued is still no future one. */
const clockSkewSeconds = 30;

/**
 * The key that signed `token`: `JWT_SECRET`, or `JWT_SECRET_PREVIOUS` for a token issued before the rotation
 * (`JWT_SECRET_ROTATED_AT`). Whoever still holds the previous secret (a leak is why secrets rotate) can sign any claims,
 * so its tokens are accepted only if issued before the rotation: they expire within a lifetime of it.
 */
async function signerOf(config: TokenConfig, token: string): Promise<{ key: SigningKey; previous: boolean }> {
  const { kid } = decodeHeader(token);
  const current = await keyOf(config.JWT_SECRET);
  if (current.kid === kid) return { key: current, previous: false };
  const previous = config.JWT_SECRET_PREVIOUS ? await keyOf(config.JWT_SECRET_PREVIOUS) : undefined;
  if (previous && previous.kid === kid) return { key: previous, previous: true };
  throw unauthenticated();
}

/** How many verified tokens the key of `secret` remembers now (at most 10,000). */
export const rememberedTokens = async (secret: string): Promise<number> => (await keyOf(secret)).verified.size;

async function decode<T extends AccessClaims | RefreshClaims>(
  { config, clock }: TokenDeps,
  token: string,
  typ: T["typ"],
): Promise<T> {
  let claims: Record<string, unknown>;
  let previous: boolean;
  try {
    const signer = await signerOf(config, token);
    previous = signer.previous;
    claims = await verifiedClaims(signer.key, token, config);
  } catch {
    throw unauthenticated();
  }
  const wellFormed = claims.typ === typ && typeof claims.sub === "string" && typeof claims.sid === "string" &&
    typeof claims.auth_ms === "number" && typeof claims.iat === "number" && typeof claims.exp === "number" &&
    (typ === "access" || typeof claims.jti === "string");
  if (!wellFormed) throw unauthenticated();
  const valid = claims as T;
  // Time claims are checked against the injected clock, not the wall clock, so tests can move time.
  const now = clock();
  if (valid.exp <= seconds(now)) throw unauthenticated("The token has expired");
  // Claims this service never issues, however well signed: a session that begins in the future would outlive every
  // logout-all and password change; a lifetime above the TTL outlives what the configuration allows.
  const lifetime = typ === "access" ? config.ACCESS_TTL : config.REFRESH_TTL;
  const untimely = valid.iat > seconds(now) + clockSkewSeconds ||
    valid.auth_ms > (valid.iat + clockSkewSeconds) * 1000 ||
    valid.exp - valid.iat > lifetime ||
    (previous && !(config.JWT_SECRET_ROTATED_AT && valid.iat < seconds(config.JWT_SECRET_ROTATED_AT)));
  if (untimely) throw unauthenticated();
  // Checked here too, not only capped into `exp`, so a shorter SESSION_MAX_AGE applies to tokens already out.
  if (valid.auth_ms + config.SESSION_MAX_AGE * 1000 <= now.getTime()) {
    throw unauthenticated("The session has reached its maximum age; log in again");
  }
  return valid;
}

/** The session of a valid access token; a refresh token is never accepted here. */
export async function verifyAccessToken(deps: TokenDeps, token: string): Promise<Session> {
  return sessionOf(await decode<AccessClaims>(deps, token, "access"));
}

/** The claims of a well-signed, unexpired refresh token; whether it is still its session's current one is not checked here. */
export function readRefreshToken(deps: TokenDeps, token: string): Promise<RefreshClaims> {
  return decode<RefreshClaims>(deps, token, "refresh");
}
