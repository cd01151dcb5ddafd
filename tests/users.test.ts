import { assert, assertEquals } from "./support/assert.ts";
import { createTestContext, describeOnEveryBackend, withContext } from "./support/app.ts";
import { ensureAdmin } from "../src/users/users.service.ts";
import { findCredentials } from "../src/auth/auth.service.ts";
import { api } from "../harness/paths.ts";

const register = (body: Record<string, unknown>) => ({ body });
const valid = (name: string) => ({
  username: name,
  email: `${name}@example.test`,
  password: "long-enough-1",
  password2: "long-enough-1",
});

describeOnEveryBackend("users", async (step, t) => {
  const admin = await t.admin("root");
  const carol = await t.customer("carol");
  const dave = await t.customer("dave");

  await step("registering returns 201 with the user and never a password hash", async () => {
    const reply = await t.request("POST", api("/users/"), register(valid("erin")));
    assertEquals(reply.status, 201);
    assertEquals(Object.keys(reply.body).sort(), ["date_joined", "email", "id", "is_admin", "username"]);
    assertEquals(reply.body.is_admin, false);
    assert(reply.body.date_joined.endsWith("Z"));
  });

  await step("is_admin and other unknown fields in the register body are ignored", async () => {
    const reply = await t.request("POST", api("/users/"), register({ ...valid("mallory"), is_admin: true, id: 1 }));
    assertEquals(reply.status, 201);
    assertEquals(reply.body.is_admin, false);
    const [row] = await t.sql`SELECT is_admin FROM users WHERE username = 'mallory'`;
    assertEquals(row.is_admin, false);
  });

  await step("a taken email or username is 409 USER_EXISTS, compared case-insensitively", async () => {
    const sameEmail = await t.request("POST", api("/users/"), {
      body: { ...valid("carol2"), email: carol.email.toUpperCase() },
    });
    const sameName = await t.request("POST", api("/users/"), {
      body: { ...valid("x"), username: "CAROL", email: "other@example.test" },
    });
    for (const reply of [sameEmail, sameName]) {
      assertEquals(reply.status, 409);
      assertEquals(reply.body.code, "USER_EXISTS");
    }
  });

  await step("mismatched passwords are a 400 naming password2", async () => {
    const reply = await t.request("POST", api("/users/"), register({ ...valid("frank"), password2: "different-1" }));
    assertEquals(reply.status, 400);
    assertEquals(reply.body.code, "VALIDATION_ERROR");
    assertEquals(reply.body.errors.map((e: { path: string }) => e.path), ["password2"]);
  });

  await step("passwords must be 8 to 72 bytes", async () => {
    const short = "seven77";
    const long = "é".repeat(37); // 74 bytes in 37 characters
    for (const password of [short, long]) {
      const reply = await t.request(
        "POST",
        api("/users/"),
        register({ ...valid("gina"), password, password2: password }),
      );
      assertEquals(reply.status, 400);
      assertEquals(reply.body.errors[0].path, "password");
    }
    const exactly72 = "a".repeat(72);
    const ok = await t.request(
      "POST",
      api("/users/"),
      register({ ...valid("gina"), password: exactly72, password2: exactly72 }),
    );
    assertEquals(ok.status, 201);
  });

  await step("a malformed JSON body is a 400 problem, not a 500", async () => {
    const reply = await t.request("POST", api("/users/"), { body: '{"username": "broken",' });
    assertEquals(reply.status, 400);
    assertEquals(reply.body.code, "VALIDATION_ERROR");
    assertEquals(reply.headers.get("content-type"), "application/problem+json");
  });

  await step("a missing body or a non-JSON content type is a 400", async () => {
    assertEquals((await t.request("POST", api("/users/"))).status, 400);
    const text = await t.request("POST", api("/users/"), {
      body: JSON.stringify(valid("henry")),
      headers: { "Content-Type": "text/plain" },
    });
    assertEquals(text.status, 400);
  });

  await step("a customer listing users is 403", async () => {
    const reply = await t.request("GET", api("/users/"), { token: carol.access });
    assertEquals(reply.status, 403);
    assertEquals(reply.body.code, "FORBIDDEN");
  });

  await step("an admin lists users oldest first, paginated with absolute links", async () => {
    const first = await t.request("GET", api("/users/?page_size=2"), { token: admin.access });
    assertEquals(first.status, 200);
    assertEquals(first.body.results.map((u: { username: string }) => u.username), ["root", "carol"]);
    assert(first.body.count >= 4);
    assertEquals(first.body.previous, null);
    assertEquals(new URL(first.body.next).searchParams.get("page"), "2");
    assert(first.body.next.startsWith(`http://api.test${api("/users")}`));
  });

  await step("page_size over 100 is clamped; a page past the end is empty; a bad page is 400", async () => {
    const clamped = await t.request("GET", api("/users/?page=2&page_size=1000"), { token: admin.access });
    assertEquals(clamped.status, 200);
    assertEquals(new URL(clamped.body.previous).searchParams.get("page_size"), "100");
    const past = await t.request("GET", api("/users/?page=99"), { token: admin.access });
    assertEquals(past.status, 200);
    assertEquals(past.body.results, []);
    for (const query of ["page=0", "page=abc", "page_size=0", "page=1.5"]) {
      assertEquals((await t.request("GET", api(`/users/?${query}`), { token: admin.access })).status, 400, query);
    }
  });

  await step("a customer reads themselves; any other id, existing or not, is 403", async () => {
    assertEquals((await t.request("GET", api(`/users/${carol.id}/`), { token: carol.access })).status, 200);
    assertEquals((await t.request("GET", api(`/users/${dave.id}/`), { token: carol.access })).status, 403);
    assertEquals((await t.request("GET", api("/users/999999/"), { token: carol.access })).status, 403);
  });

  await step("an admin reads any user, and a missing one is 404", async () => {
    assertEquals((await t.request("GET", api(`/users/${dave.id}/`), { token: admin.access })).body.username, "dave");
    assertEquals((await t.request("GET", api("/users/999999/"), { token: admin.access })).status, 404);
    assertEquals((await t.request("GET", api("/users/not-a-number/"), { token: admin.access })).status, 400);
  });

  await step("a customer deleting another user is 403 and deletes nothing", async () => {
    assertEquals((await t.request("DELETE", api(`/users/${dave.id}/`), { token: carol.access })).status, 403);
    assertEquals((await t.request("GET", api(`/users/${dave.id}/`), { token: admin.access })).status, 200);
  });

  await step("an admin deletes a user", async () => {
    assertEquals((await t.request("DELETE", api(`/users/${dave.id}/`), { token: admin.access })).status, 204);
    assertEquals((await t.request("GET", api(`/users/${dave.id}/`), { token: admin.access })).status, 404);
  });

  await step("every path works with and without its trailing slash", async () => {
    assertEquals((await t.request("GET", api("/users/me"), { token: carol.access })).status, 200);
    assertEquals((await t.request("GET", api("/users/me/"), { token: carol.access })).status, 200);
  });
});

Deno.test("ADMIN_EMAIL creates the admin once, promotes an existing user only with their own password, and never changes a password", async () => {
  const t = await createTestContext();
  try {
    const boss = { email: "boss@example.test", password: "admin-password-1", cost: 4 };
    const created = await ensureAdmin(t, boss);
    assert(created.outcome === "created" && created.user.is_admin);
    const again = await ensureAdmin(t, { ...boss, email: "BOSS@example.test", password: "changed-password" });
    assert(again.outcome === "unchanged" && again.user.id === created.user.id);
    const before = await findCredentials(t, "boss@example.test");
    assertEquals(
      (await t.request("POST", api("/users/login/"), { body: boss })).status,
      200,
    );

    const customer = await t.customer("promotable");
    const squatted = await ensureAdmin(t, { email: customer.email, password: "not-their-password", cost: 4 });
    assertEquals(squatted, { outcome: "squatted" });
    assertEquals((await t.request("GET", api("/users/"), { token: customer.access })).status, 403);
    const promoted = await ensureAdmin(t, { email: customer.email, password: customer.password, cost: 4 });
    assert(promoted.outcome === "promoted" && promoted.user.id === customer.id);
    assertEquals(Object.keys(promoted.user).sort(), ["date_joined", "email", "id", "is_admin", "username"]);
    assertEquals((await t.request("GET", api("/users/"), { token: customer.access })).status, 200);
    assertEquals((await findCredentials(t, "boss@example.test"))?.password_hash, before?.password_hash);
  } finally {
    await t.close();
  }
});

Deno.test("page links use the client's scheme and host from a trusted proxy, and ignore them otherwise", async () => {
  const forwarded = { "X-Forwarded-Proto": "https", "X-Forwarded-Host": "exams.example.com" };
  for (const [trust, origin] of [["true", "https://exams.example.com"], ["false", "http://api.test"]]) {
    await withContext({ env: { TRUST_PROXY: trust } }, async (t) => {
      const admin = await t.admin();
      await t.customer();
      const reply = await t.request("GET", api("/users/?page_size=1"), { token: admin.access, headers: forwarded });
      assertEquals(new URL(reply.body.next).origin, origin);
    });
  }
});
