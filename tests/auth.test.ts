import bcrypt from "bcryptjs";
import { sign } from "hono/jwt";
import { assert, assertEquals, assertNotEquals } from "./support/assert.ts";
import { assertProblem } from "./support/problems.ts";
import { describeOnEveryBackend, withContext } from "./support/app.ts";
import { hashPassword } from "../src/auth/passwords.ts";
import { createUser } from "../src/users/users.service.ts";
import { api } from "../harness/paths.ts";

const base64url = (value: unknown) =>
  btoa(JSON.stringify(value)).replaceAll("=", "").replaceAll("+", "-").replaceAll("/", "_");

describeOnEveryBackend("auth", async (step, t) => {
  const alice = await t.customer("alice");
  const me = (token: string) => t.request("GET", api("/users/me/"), { token });
  const refresh = (token: string) => t.request("POST", api("/users/login/refresh/"), { body: { refresh: token } });

  await step("login returns an access and a refresh token with the access lifetime", async () => {
    const reply = await t.request("POST", api("/users/login/"), {
      body: { email: alice.email, password: alice.password },
    });
    assertEquals(reply.status, 200);
    assertEquals(reply.body.token_type, "Bearer");
    assertEquals(reply.body.expires_in, 900);
    assertNotEquals(reply.body.access, reply.body.refresh);
  });

  await step("login compares the email case-insensitively", async () => {
    const reply = await t.request("POST", api("/users/login/"), {
      body: { email: alice.email.toUpperCase(), password: alice.password },
    });
    assertEquals(reply.status, 200);
  });

  await step("a wrong password and an unknown email get the same 401", async () => {
    const wrongPassword = await t.request("POST", api("/users/login/"), {
      body: { email: alice.email, password: "not-her-password" },
    });
    const unknownEmail = await t.request("POST", api("/users/login/"), {
      body: { email: "nobody@example.test", password: "whatever-password" },
    });
    for (const reply of [wrongPassword, unknownEmail]) {
      assertEquals(reply.status, 401);
      assertEquals(reply.body.code, "INVALID_CREDENTIALS");
      assertEquals(reply.headers.get("content-type"), "application/problem+json");
    }
    assertEquals(wrongPassword.body.detail, unknownEmail.body.detail);
  });

  await step(
    "the 11th failed login for one email from one address within 15 minutes is 429 with Retry-After",
    async () => {
      const victim = await t.customer("victim");
      const attempt = (password: string) =>
        t.request("POST", api("/users/login/"), { body: { email: victim.email, password } });
      for (let i = 0; i < 10; i++) assertEquals((await attempt("wrong-password")).status, 401);
      const limited = await attempt(victim.password);
      assertEquals(limited.status, 429);
      assertEquals(limited.body.code, "RATE_LIMITED");
      assert(Number(limited.headers.get("Retry-After")) > 0);
      assertEquals(
        (await t.request("POST", api("/users/login/"), { body: { email: alice.email, password: alice.password } }))
          .status,
        200,
      );
    },
  );

  await step("login refuses a password over 72 bytes (bcrypt's limit) with 400", async () => {
    const reply = await t.request("POST", api("/users/login/"), {
      body: { email: alice.email, password: alice.password + "x".repeat(73) },
    });
    assertProblem(reply, 400, "VALIDATION_ERROR");
    assertEquals(reply.body.errors[0].path, "password");
  });

  await step(
    "login reads the email as registration does: spaces around it are ignored, a malformed one is 400",
    async () => {
      const padded = await t.request("POST", api("/users/login/"), {
        body: { email: `  ${alice.email} `, password: alice.password },
      });
      assertEquals(padded.status, 200);
      const malformed = await t.request("POST", api("/users/login/"), {
        body: { email: "alice-at-example.test", password: alice.password },
      });
      assertProblem(malformed, 400, "VALIDATION_ERROR");
    },
  );

  await step("a hash made at another BCRYPT_COST is redone at the current cost when its owner logs in", async () => {
    const email = "rehash@example.test";
    const password = "an-older-password";
    await createUser({ sql: t.sql, clock: t.clock.read }, {
      username: "rehash",
      email,
      passwordHash: await hashPassword(password, 5),
    });
    const costOf = async () =>
      bcrypt.getRounds((await t.sql`SELECT password_hash FROM users WHERE email = ${email}`)[0].password_hash);
    const login = (password: string) => t.request("POST", api("/users/login/"), { body: { email, password } });
    assertEquals((await login("a-wrong-password")).status, 401);
    assertEquals(await costOf(), 5, "a failed login leaves the hash alone");
    assertEquals((await login(password)).status, 200);
    assertEquals(await costOf(), t.config.BCRYPT_COST);
    assertEquals((await login(password)).status, 200);
  });

  await step("me returns the caller for a valid access token", async () => {
    const reply = await me(alice.access);
    assertEquals(reply.status, 200);
    assertEquals(reply.body.email, alice.email);
  });

  await step("a missing or malformed Authorization header is 401", async () => {
    assertEquals((await t.request("GET", api("/users/me/"))).body.code, "UNAUTHENTICATED");
    const basic = await t.request("GET", api("/users/me/"), { headers: { Authorization: "Basic abc" } });
    assertEquals(basic.status, 401);
  });

  await step("a token with a tampered signature is 401", async () => {
    const [header, payload, signature] = alice.access.split(".");
    const flipped = signature.startsWith("A") ? `B${signature.slice(1)}` : `A${signature.slice(1)}`;
    assertEquals((await me(`${header}.${payload}.${flipped}`)).status, 401);
  });

  await step("a token with a tampered payload is 401", async () => {
    const [header, , signature] = alice.access.split(".");
    const forged = base64url({ sub: "1", typ: "access", exp: 9_999_999_999 });
    assertEquals((await me(`${header}.${forged}.${signature}`)).status, 401);
  });

  await step("an unsigned token (alg: none) is 401", async () => {
    const token = `${base64url({ alg: "none", typ: "JWT" })}.${
      base64url({ sub: String(alice.id), typ: "access", exp: 9_999_999_999 })
    }.`;
    assertEquals((await me(token)).status, 401);
  });

  await step("a token signed with another secret is 401", async () => {
    const now = Math.floor(t.clock.now.getTime() / 1000);
    const token = await sign(
      { sub: String(alice.id), typ: "access", iat: now, exp: now + 60 },
      "another-secret-of-enough-length-000000",
    );
    assertEquals((await me(token)).status, 401);
  });

  await step("an access token is refused once it has expired", async () => {
    await t.clock.later(901, async () => {
      const reply = await me(alice.access);
      assertEquals(reply.status, 401);
      assertEquals(reply.body.code, "UNAUTHENTICATED");
    });
  });

  await step("a refresh token is never accepted as an access token", async () => {
    assertEquals((await me(alice.refresh)).status, 401);
  });

  await step("an access token is never accepted as a refresh token", async () => {
    assertEquals((await refresh(alice.access)).status, 401);
  });

  await step("refresh rotates: a new pair, and the old refresh token is spent", async () => {
    const session = await t.customer();
    const rotated = await refresh(session.refresh);
    assertEquals(rotated.status, 200);
    assertEquals(rotated.body.token_type, "Bearer");
    assertEquals((await me(rotated.body.access)).status, 200);
    const again = await refresh(session.refresh);
    assertEquals(again.status, 401);
    assertEquals(again.body.code, "UNAUTHENTICATED");
  });

  await step("reusing a spent refresh token revokes every token rotated from the same login", async () => {
    const session = await t.customer();
    const rotated = await refresh(session.refresh);
    assertEquals((await refresh(session.refresh)).status, 401);
    assertEquals((await refresh(rotated.body.refresh)).status, 401);
  });

  await step("a refresh token is refused once it has expired", async () => {
    const session = await t.customer();
    await t.clock.later(7 * 24 * 3600 + 1, async () => {
      assertEquals((await refresh(session.refresh)).status, 401);
    });
  });

  await step("logout spends the refresh token; the access token lives on until it expires", async () => {
    const session = await t.customer();
    const out = await t.request("POST", api("/users/logout/"), {
      token: session.access,
      body: { refresh: session.refresh },
    });
    assertEquals(out.status, 204);
    assertEquals((await refresh(session.refresh)).status, 401);
    assertEquals((await me(session.access)).status, 200);
  });

  await step("logout with another user's refresh token is 401 and leaves that token working", async () => {
    const other = await t.customer();
    const out = await t.request("POST", api("/users/logout/"), {
      token: alice.access,
      body: { refresh: other.refresh },
    });
    assertEquals(out.status, 401);
    assertEquals((await refresh(other.refresh)).status, 200);
  });

  await step("logout needs an access token and a valid refresh token", async () => {
    const session = await t.customer();
    assertEquals(
      (await t.request("POST", api("/users/logout/"), { body: { refresh: session.refresh } })).status,
      401,
    );
    const invalid = await t.request("POST", api("/users/logout/"), {
      token: session.access,
      body: { refresh: "x.y.z" },
    });
    assertEquals(invalid.status, 401);
  });

  await step("a deleted user's access and refresh tokens stop working at once", async () => {
    const leaving = await t.customer();
    assertEquals((await t.request("DELETE", api(`/users/${leaving.id}/`), { token: leaving.access })).status, 204);
    assertEquals((await me(leaving.access)).status, 401);
    assertEquals((await refresh(leaving.refresh)).status, 401);
  });
});

Deno.test("a wrong email takes about as long as a wrong password (no account enumeration by timing)", async () => {
  await withContext({ env: { BCRYPT_COST: "8" } }, async (t) => {
    const known = await t.customer("timed");
    const attempt = async (email: string) => {
      const started = performance.now();
      await t.request("POST", api("/users/login/"), { body: { email, password: "wrong-password" } });
      return performance.now() - started;
    };
    const median = (times: number[]) => times.sort((a, b) => a - b)[Math.floor(times.length / 2)];
    await attempt("warm-up@example.test");
    // Interleaved, so a busy moment of the machine weighs on both sides alike.
    const wrongPassword: number[] = [];
    const unknownEmail: number[] = [];
    for (let i = 0; i < 7; i++) {
      wrongPassword.push(await attempt(known.email));
      unknownEmail.push(await attempt(`nobody${i}@example.test`));
    }
    // Without the decoy comparison an unknown email answers about 20 times faster.
    const ratio = median(unknownEmail) / median(wrongPassword);
    assert(
      ratio > 0.33 && ratio < 3,
      `unknown email ${median(unknownEmail)} ms vs wrong password ${median(wrongPassword)} ms`,
    );
  });
});
