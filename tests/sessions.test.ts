import { sign } from "hono/jwt";
import { decodeHeader } from "hono/utils/jwt/jwt";
import { assert, assertEquals, assertNotEquals } from "./support/assert.ts";
import { assertProblem } from "./support/problems.ts";
import { describeOnEveryBackend, type Reply, type TestContext, withContext } from "./support/app.ts";
import { createApp } from "../src/app.ts";
import { type Config, loadConfig } from "../src/config.ts";
import { silentLogger } from "../src/platform/logger.ts";
import { MemoryCache } from "../src/platform/cache.ts";
import { issueTokens, rememberedTokens, verifyAccessToken } from "../src/auth/tokens.ts";
import { api } from "../harness/paths.ts";
import { cacheKeys, redis } from "./support/cache-keys.ts";

const day = 24 * 3600;

/** A JSON client for the app of `t` (same database, cache and clock) under other settings. */
function appWith(t: TestContext, settings: Partial<Config>) {
  const config = { ...t.config, ...settings };
  const app = createApp({ config, sql: t.sql, cache: t.cache, clock: t.clock.read, logger: silentLogger });
  return async (method: string, path: string, { token, body }: { token?: string; body?: unknown } = {}) => {
    const headers: Record<string, string> = { "Content-Type": "application/json" };
    if (token) headers.Authorization = `Bearer ${token}`;
    const response = await app.request(`http://api.test${path}`, { method, headers, body: JSON.stringify(body) });
    const text = await response.text();
    return { status: response.status, headers: response.headers, body: text ? JSON.parse(text) : null } as Reply;
  };
}

describeOnEveryBackend("sessions", async (step, t) => {
  const me = (token: string) => t.request("GET", api("/users/me/"), { token });
  const refresh = (token: string) => t.request("POST", api("/users/login/refresh/"), { body: { refresh: token } });
  const login = (email: string, password: string) =>
    t.request("POST", api("/users/login/"), { body: { email, password } });
  const changePassword = (token: string, body: Record<string, string>) =>
    t.request("POST", api("/users/me/password/"), { token, body });
  const logoutAll = (token: string) => t.request("POST", api("/users/logout-all/"), { token });
  /** Both tokens of a session are refused. */
  const assertEnded = async (session: { access: string; refresh: string }) => {
    assertProblem(await me(session.access), 401, "UNAUTHENTICATED");
    assertProblem(await refresh(session.refresh), 401, "UNAUTHENTICATED");
  };

  await step("a session ends SESSION_MAX_AGE (30 days) after its login, however often it is refreshed", async () => {
    const user = await t.customer();
    await t.clock.later(0, async () => {
      let tokens = { access: user.access, refresh: user.refresh };
      for (let refreshed = 0; refreshed < 4; refreshed++) {
        t.clock.advance(6 * day);
        const rotated = await refresh(tokens.refresh);
        assertEquals(rotated.status, 200, `refresh on day ${6 * (refreshed + 1)}`);
        tokens = rotated.body;
      }
      t.clock.advance(6 * day - 60); // a minute before the 30th day is over
      const last = await refresh(tokens.refresh);
      assertEquals(last.status, 200);
      assertEquals(last.body.expires_in, 60, "the access token lives no longer than its session");
      tokens = last.body;
      assertEquals((await me(tokens.access)).status, 200);
      t.clock.advance(60);
      await assertEnded(tokens);
    });
  });

  await step("changing the password ends every session of the user; the new password logs in", async () => {
    const user = await t.customer();
    const other = await login(user.email, user.password);
    const newPassword = "a brand new password";
    const changed = await changePassword(user.access, {
      current_password: user.password,
      new_password: newPassword,
      new_password2: newPassword,
    });
    assertEquals(changed.status, 204);
    await assertEnded(user);
    await assertEnded(other.body);
    assertProblem(await login(user.email, user.password), 401, "INVALID_CREDENTIALS");
    const fresh = await login(user.email, newPassword);
    assertEquals(fresh.status, 200);
    assertEquals((await me(fresh.body.access)).status, 200);
    assertEquals((await refresh(fresh.body.refresh)).status, 200);
  });

  await step(
    "a session begun earlier in the same second as a password change ends; one begun later lives",
    async () => {
      const user = await t.customer();
      await t.clock.later(0.1, async () => {
        const before = (await login(user.email, user.password)).body;
        t.clock.advance(0.4);
        const body = {
          current_password: user.password,
          new_password: "changed-password",
          new_password2: "changed-password",
        };
        assertEquals((await changePassword(before.access, body)).status, 204);
        t.clock.advance(0.4);
        const after = (await login(user.email, "changed-password")).body;
        await assertEnded(before);
        assertEquals((await me(after.access)).status, 200);
      });
    },
  );

  await step("a wrong current password is 400 with a field error, and changes nothing", async () => {
    const user = await t.customer();
    const reply = await changePassword(user.access, {
      current_password: "not-my-password",
      new_password: "another-password",
      new_password2: "another-password",
    });
    assertProblem(reply, 400, "VALIDATION_ERROR");
    assertEquals(reply.body.errors.map((e: { path: string }) => e.path), ["current_password"]);
    assertEquals((await me(user.access)).status, 200);
    assertEquals((await login(user.email, user.password)).status, 200);
  });

  await step("the new password follows the registration rule: 8–72 bytes, typed twice alike", async () => {
    const user = await t.customer();
    const attempt = (new_password: string, new_password2 = new_password) =>
      changePassword(user.access, { current_password: user.password, new_password, new_password2 });
    for (
      const [reply, path] of [
        [await attempt("short"), "new_password"],
        [await attempt("é".repeat(37)), "new_password"],
        [await attempt("long-enough-1", "long-enough-2"), "new_password2"],
      ] as const
    ) {
      assertProblem(reply, 400, "VALIDATION_ERROR");
      assertEquals(reply.body.errors[0].path, path);
    }
    assertEquals((await login(user.email, user.password)).status, 200);
  });

  await step("changing the password needs a signed-in caller", async () => {
    const body = { current_password: "whatever-1", new_password: "whatever-2", new_password2: "whatever-2" };
    assertProblem(await t.request("POST", api("/users/me/password/"), { body }), 401, "UNAUTHENTICATED");
    assertProblem(await t.request("POST", api("/users/logout-all/")), 401, "UNAUTHENTICATED");
  });

  await step("logout-all ends every session of the caller only; the same password logs in again", async () => {
    const user = await t.customer();
    const neighbour = await t.customer();
    const other = (await login(user.email, user.password)).body;
    assertEquals((await logoutAll(user.access)).status, 204);
    await assertEnded(user);
    await assertEnded(other);
    assertEquals((await me(neighbour.access)).status, 200);
    const again = await login(user.email, user.password);
    assertEquals(again.status, 200);
    assertEquals((await me(again.body.access)).status, 200);
  });

  await step("two refreshes racing with one token: at most one wins, and the reuse ends the session", async () => {
    const user = await t.customer();
    const replies = await Promise.all([refresh(user.refresh), refresh(user.refresh)]);
    const statuses = replies.map((reply) => reply.status).sort();
    assertEquals(statuses, [200, 401]);
    const winner = replies.find((reply) => reply.status === 200)!;
    assertProblem(await refresh(winner.body.refresh), 401, "UNAUTHENTICATED");
  });

  await step("the cache holds one key per session, however often it is refreshed; logout removes it", async () => {
    const user = await t.customer();
    const sessions = async () => (await cacheKeys(t.cache, "session:")).length;
    const before = await sessions();
    let token = user.refresh;
    for (let i = 0; i < 1000; i++) {
      const rotated = await refresh(token);
      assertEquals(rotated.status, 200);
      token = rotated.body.refresh;
    }
    assertEquals(await sessions(), before);
    const out = await t.request("POST", api("/users/logout/"), { token: user.access, body: { refresh: token } });
    assertEquals(out.status, 204);
    assertEquals(await sessions(), before - 1);
    assertProblem(await refresh(token), 401, "UNAUTHENTICATED");
  });
});

Deno.test("every key the service leaves in Redis expires", async () => {
  await withContext({}, async (t) => {
    const user = await t.customer();
    const wrong = { email: user.email, password: "not-the-password" };
    await t.request("POST", api("/users/login/"), { body: wrong });
    await t.request("POST", api("/users/login/"), { body: { email: user.email, password: user.password } });
    await t.request("POST", api("/users/login/refresh/"), { body: { refresh: user.refresh } });
    const client = await redis();
    const keys = await client.keys("*");
    assert(keys.length >= 3, keys.join(", "));
    for (const key of keys) assertNotEquals(await client.ttl(key), -1, `${key} never expires`);
  });
});

Deno.test("tokens of another issuer or audience are refused, even signed with the same secret", async () => {
  await withContext({}, async (t) => {
    const user = await t.customer();
    for (const settings of [{ JWT_ISSUER: "another-service" }, { JWT_AUDIENCE: "another-api" }]) {
      const elsewhere = appWith(t, settings);
      const login = await elsewhere("POST", api("/users/login/"), {
        body: { email: user.email, password: user.password },
      });
      assertEquals(login.status, 200);
      assertEquals((await elsewhere("GET", api("/users/me/"), { token: login.body.access })).status, 200);
      assertProblem(await t.request("GET", api("/users/me/"), { token: login.body.access }), 401, "UNAUTHENTICATED");
      assertProblem(
        await t.request("POST", api("/users/login/refresh/"), { body: { refresh: login.body.refresh } }),
        401,
        "UNAUTHENTICATED",
      );
    }
  });
});

Deno.test("JWT_SECRET rotates: tokens of JWT_SECRET_PREVIOUS still work, new ones are signed with the new secret", async () => {
  await withContext({}, async (t) => {
    const user = await t.customer();
    const next = "the-next-secret-that-is-long-enough-0001";
    const rotation = { JWT_SECRET: next, JWT_SECRET_PREVIOUS: t.config.JWT_SECRET };
    const rotated = appWith(t, { ...rotation, JWT_SECRET_ROTATED_AT: new Date(t.clock.now.getTime() + 1000) });
    const onlyNext = appWith(t, { JWT_SECRET: next });

    assertEquals((await rotated("GET", api("/users/me/"), { token: user.access })).status, 200);
    assertEquals((await onlyNext("GET", api("/users/me/"), { token: user.access })).status, 401);
    const pair = await rotated("POST", api("/users/login/refresh/"), { body: { refresh: user.refresh } });
    assertEquals(pair.status, 200);
    assertEquals((await onlyNext("GET", api("/users/me/"), { token: pair.body.access })).status, 200);
    assertEquals((await t.request("GET", api("/users/me/"), { token: pair.body.access })).status, 401);
    const [kid, oldKid] = [decodeHeader(pair.body.access).kid, decodeHeader(user.access).kid];
    assert(kid && oldKid && kid !== oldKid, "each secret has its own key id");
  });
});

/**
 * An access token for `user` with these claims, signed with `secret` under the key id of `sample` (a token the service
 * issued with that secret): what someone holding the secret could forge.
 */
async function forged(t: TestContext, secret: string, sample: string, user: { id: number }, claims: object) {
  const now = Math.floor(t.clock.now.getTime() / 1000);
  const k = new TextEncoder().encode(secret).toBase64({ alphabet: "base64url", omitPadding: true });
  const jwk = { kty: "oct", k, alg: "HS256" as const, kid: decodeHeader(sample).kid as string };
  const payload = {
    sub: String(user.id),
    iss: t.config.JWT_ISSUER,
    aud: t.config.JWT_AUDIENCE,
    sid: crypto.randomUUID(),
    auth_ms: t.clock.now.getTime(),
    iat: now,
    exp: now + t.config.ACCESS_TTL,
    typ: "access",
    ...claims,
  };
  return await sign(payload, jwk);
}

Deno.test("well-signed tokens with time claims the service never issues are refused: a future iat or login, a lifetime above the TTL", async () => {
  await withContext({}, async (t) => {
    const user = await t.customer();
    const now = Math.floor(t.clock.now.getTime() / 1000);
    const token = (claims: object) => forged(t, t.config.JWT_SECRET, user.access, user, claims);
    const me = async (claims: object) =>
      (await t.request("GET", api("/users/me/"), { token: await token(claims) })).status;
    assertEquals(await me({}), 200, "claims as the service issues them pass");
    assertEquals(await me({ iat: now + 3600, exp: now + 3600 + 900 }), 401, "issued in an hour");
    assertEquals(await me({ auth_ms: Date.parse("2099-01-01T00:00:00Z") }), 401, "a login in 2099");
    assertEquals(await me({ auth_ms: (now + 120) * 1000 }), 401, "a login after the token");
    assertEquals(await me({ exp: now + t.config.ACCESS_TTL + 1 }), 401, "a lifetime above ACCESS_TTL");
    assertEquals(await me({ iat: now - 600, exp: now + 3 * 24 * 3600 }), 401, "a lifetime of days");
    assertEquals(await me({ iat: undefined }), 401, "no iat");
    assertEquals(await me({ iat: now + 10 }), 200, "an instance's clock a little ahead");
  });
});

Deno.test("a session claiming to begin in 2099 does not outlive logout-all", async () => {
  await withContext({}, async (t) => {
    const user = await t.customer();
    const token = await forged(t, t.config.JWT_SECRET, user.access, user, { auth_ms: Date.parse("2099-01-01Z") });
    assertEquals((await t.request("POST", api("/users/logout-all/"), { token: user.access })).status, 204);
    assertProblem(await t.request("GET", api("/users/me/"), { token }), 401, "UNAUTHENTICATED");
  });
});

Deno.test("JWT_SECRET_PREVIOUS is accepted only for tokens issued before JWT_SECRET_ROTATED_AT", async () => {
  await withContext({}, async (t) => {
    const user = await t.customer();
    const rotatedAt = new Date(t.clock.now.getTime() + 60_000);
    const rotated = appWith(t, {
      JWT_SECRET: "the-next-secret-that-is-long-enough-0001",
      JWT_SECRET_PREVIOUS: t.config.JWT_SECRET,
      JWT_SECRET_ROTATED_AT: rotatedAt,
    });
    const issuedAt = async (at: number) => {
      const iat = Math.floor(at / 1000);
      const token = await forged(t, t.config.JWT_SECRET, user.access, user, { iat, auth_ms: at, exp: iat + 900 });
      return (await rotated("GET", api("/users/me/"), { token })).status;
    };
    await t.clock.later(120, async () => {
      assertEquals(await issuedAt(rotatedAt.getTime() - 61_000), 200, "issued a minute before the rotation");
      assertEquals(await issuedAt(rotatedAt.getTime()), 401, "issued at the rotation");
      assertEquals(await issuedAt(rotatedAt.getTime() + 30_000), 401, "issued after it, by whoever kept the secret");
    });
  });
});

Deno.test("a signing key remembers at most 10,000 verified tokens, the oldest forgotten first", async () => {
  const secret = "a-secret-of-its-own-for-this-test-0000000";
  const deps = {
    config: { ...loadConfig({ APP_ENV: "test", JWT_SECRET: secret }), JWT_SECRET: secret },
    cache: new MemoryCache(),
    clock: () => new Date(),
  };
  const first = (await issueTokens(deps, 1)).access;
  await verifyAccessToken(deps, first);
  for (let i = 0; i < 10_100; i++) await verifyAccessToken(deps, (await issueTokens(deps, 1)).access);
  assertEquals(await rememberedTokens(secret), 10_000);
  await verifyAccessToken(deps, first); // forgotten, so verified again: still valid
  assertEquals(await rememberedTokens(secret), 10_000);
});
