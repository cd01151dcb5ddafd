import { assert, assertEquals, assertMatch } from "./support/assert.ts";
import { delay } from "../harness/process.ts";
import { call, json, jwtSecret, readOnly, runToExit, startServer, stopServer } from "../harness/server-process.ts";
import { freshDatabase, startTestServers } from "../harness/servers.ts";
import { api } from "../harness/paths.ts";
import { swaggerAssetUrls } from "../src/http/docs.ts";

/** A request body the client sends in pieces, `pause` ms apart. */
function slowBody(text: string, pieces: number, pause: number, onFirstPiece: () => void) {
  const bytes = new TextEncoder().encode(text);
  const size = Math.ceil(bytes.length / pieces);
  let sent = 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (sent > 0) await delay(pause);
      controller.enqueue(bytes.subarray(sent, sent + size));
      if (sent === 0) onFirstPiece();
      sent += size;
      if (sent >= bytes.length) controller.close();
    },
  });
}

Deno.test("the production server behind a real PostgreSQL", async (t) => {
  const server = await startServer({ JWT_SECRET: jwtSecret, DATABASE_URL: await freshDatabase() });
  try {
    await t.step("docs, their assets and openapi.json are hidden behind a 404 problem", async () => {
      for (const path of ["/docs", "/openapi.json", ...swaggerAssetUrls("/docs")]) {
        const reply = await call(server, path);
        assertEquals(reply.status, 404);
        assertEquals(reply.headers.get("content-type"), "application/problem+json");
        assertEquals(reply.body.code, "NOT_FOUND");
      }
    });

    await t.step("every response carries the secure headers", async () => {
      for (const path of ["/healthz", "/no-such-route"]) {
        const { headers } = await call(server, path);
        assertEquals(headers.get("x-content-type-options"), "nosniff");
        assertEquals(headers.get("x-frame-options"), "SAMEORIGIN");
      }
    });

    await t.step("the client's X-Request-Id is echoed, and one is generated when absent", async () => {
      const echoed = await call(server, "/healthz", { headers: { "X-Request-Id": "client-chosen-id-42" } });
      assertEquals(echoed.headers.get("x-request-id"), "client-chosen-id-42");
      const generated = await call(server, "/healthz");
      assertMatch(generated.headers.get("x-request-id") ?? "", /^[0-9a-f-]{36}$/);
    });

    await t.step("a body over 1 MB is refused with a 413 problem document", async () => {
      const oversized = { username: "x".repeat(1024 * 1024 + 1) };
      const reply = await call(server, api("/users/"), json(oversized, { "X-Request-Id": "too-large-1" }));
      assertEquals(reply.status, 413);
      assertEquals(reply.headers.get("content-type"), "application/problem+json");
      assertEquals(reply.body.code, "PAYLOAD_TOO_LARGE");
      assertEquals(reply.body.request_id, "too-large-1");
      assertEquals(reply.headers.get("x-content-type-options"), "nosniff");
    });

    await t.step("a streamed body without Content-Length is held to the same limit", async () => {
      const chunk = new Uint8Array(64 * 1024).fill(0x20);
      let sent = 0;
      const body = new ReadableStream<Uint8Array>({
        pull(controller) {
          controller.enqueue(chunk);
          sent += chunk.length;
          if (sent > 2 * 1024 * 1024) controller.close();
        },
      });
      const reply = await call(server, api("/users/"), {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body,
      });
      assertEquals(reply.status, 413);
      assertEquals(reply.body.code, "PAYLOAD_TOO_LARGE");
    });

    await t.step("log lines are JSON with the request id and never a password or a token", async () => {
      const password = "a-very-secret-password";
      const account = { username: "logged", email: "logged@example.test", password, password2: password };
      assertEquals((await call(server, api("/users/"), json(account))).status, 201);
      const login = await call(server, api("/users/login/"), json({ email: account.email, password }));
      assertEquals(login.status, 200);
      const me = await call(server, api("/users/me/"), {
        headers: { Authorization: `Bearer ${login.body.access}`, "X-Request-Id": "log-check-1" },
      });
      assertEquals(me.status, 200);

      // Log lines are written in batches a few milliseconds apart: wait for the one of this request.
      const logged = () =>
        server.lines.filter((line) => line.startsWith("{")).map((line) => JSON.parse(line))
          .find((r) => r.request_id === "log-check-1");
      for (let waited = 0; !logged() && waited < 2000; waited += 20) await delay(20);
      const record = logged();
      assert(record, `no log line for the request:\n${server.lines.join("\n")}`);
      assertEquals(record.method, "GET");
      assertMatch(record.path, /^\/api\/v1\/users\/me\/?$/);
      assertEquals(record.status, 200);
      assertEquals(record.user_id, me.body.id);
      assertEquals(typeof record.duration_ms, "number");
      const everything = server.lines.join("\n");
      for (const secret of [password, login.body.access, login.body.refresh, jwtSecret]) {
        assert(!everything.includes(secret), "a secret reached the logs");
      }
    });

    await t.step("SIGTERM lets an in-flight request finish, then the process exits 0", async () => {
      const password = "slow-client-password";
      const account = { username: "slowpoke", email: "slow@example.test", password, password2: password };
      let firstPieceSent: () => void;
      const started = new Promise<void>((resolve) => firstPieceSent = resolve);
      const response = fetch(`${server.url}${api("/users/")}`, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: slowBody(JSON.stringify(account), 10, 100, () => firstPieceSent()),
      });
      await started;
      await delay(150);
      server.child.kill("SIGTERM");
      const reply = await response;
      assertEquals(reply.status, 201, server.lines.join("\n"));
      assertEquals((await reply.json()).username, "slowpoke");
      const status = await server.exited;
      assertEquals(status.code, 0);
      assert(server.lines.some((line) => line.includes('"shutting down"')));
    });
  } finally {
    await stopServer(server);
  }
});

Deno.test("DOCS_ENABLED=true serves the docs in production, with Swagger UI's assets from the service itself", async () => {
  const server = await startServer({
    JWT_SECRET: jwtSecret,
    DATABASE_URL: await freshDatabase(),
    DOCS_ENABLED: "true",
  });
  try {
    const spec = await call(server, "/openapi.json");
    assertEquals(spec.status, 200);
    assertEquals(spec.body.openapi, "3.1.0");
    const docs = await call(server, "/docs");
    assertEquals(docs.status, 200);
    assertMatch(docs.headers.get("content-type") ?? "", /text\/html/);
    const linked = [...docs.body.matchAll(/(?:href|src)="([^"]+)"/g)].map((m) => m[1]);
    assertEquals(linked.toSorted(), swaggerAssetUrls("/docs").toSorted(), "the page links only the served assets");
    for (const path of linked) {
      const asset = await fetch(`${server.url}${path}`);
      assertEquals(asset.status, 200);
      assertMatch(asset.headers.get("content-type") ?? "", /^text\/(css|javascript); charset=utf-8$/);
      // The URL carries swagger-ui-dist's version, so browsers may keep the file until the version changes.
      assertEquals(asset.headers.get("cache-control"), "public, max-age=31536000, immutable");
      assert((await asset.text()).length > 100_000, `${path} is the real file`);
    }
  } finally {
    await stopServer(server);
  }
});

Deno.test("production without JWT_SECRET exits non-zero with one clear line", async () => {
  const { code, lines } = await runToExit({ DATABASE_URL: "postgres://unused.invalid/none" });
  assert(code !== 0);
  assertEquals(lines, [
    "invalid configuration: JWT_SECRET is required when APP_ENV=production: " +
    "set it to 32 or more random characters (openssl rand -hex 32)",
  ]);
});

Deno.test("on Deno Deploy the server refuses to start without DATABASE_URL and Upstash", async () => {
  const deploy = { DENO_DEPLOYMENT_ID: "test-deployment", JWT_SECRET: jwtSecret };
  for (const env of [deploy, { ...deploy, DATABASE_URL: "postgres://unused.invalid/none" }]) {
    const { code, lines } = await runToExit(env);
    assert(code !== 0);
    assertEquals(lines.length, 1, lines.join("\n"));
    assertMatch(lines[0], /Deno Deploy .* DATABASE_URL and UPSTASH_REDIS_REST_URL\/TOKEN are required/);
  }
});

Deno.test("on Deno Deploy the server runs without write access on PostgreSQL and Upstash", async () => {
  const { upstashUrl, upstashToken } = await startTestServers();
  const server = await startServer({
    DENO_DEPLOYMENT_ID: "test-deployment",
    JWT_SECRET: jwtSecret,
    DATABASE_URL: await freshDatabase(),
    UPSTASH_REDIS_REST_URL: upstashUrl,
    UPSTASH_REDIS_REST_TOKEN: upstashToken,
  }, readOnly);
  try {
    const health = await call(server, "/healthz");
    assertEquals(health.status, 200);
    assertEquals(health.body, { status: "ok", db: "ok", cache: "ok" });
  } finally {
    await stopServer(server);
  }
});
