// The real nginx on infra/nginx.conf (harness/nginx.ts) in front of three real api processes sharing one
// PostgreSQL and one Redis, as the compose stack runs them with replicas.
import { assert, assertEquals, assertMatch } from "./support/assert.ts";
import { delay } from "../harness/process.ts";
import { type Nginx, startNginx } from "../harness/nginx.ts";
import { call, json, jwtSecret, type ServerProcess, startServer, stopServer } from "../harness/server-process.ts";
import { freshDatabase, startTestServers } from "../harness/servers.ts";
import { api } from "../harness/paths.ts";

const registerLimit = 3;
const hsts = "max-age=31536000; includeSubDomains";
/** An id nginx made up itself ($request_id). */
const nginxRequestId = /^[0-9a-f]{32}$/;

let users = 0;
function newUser() {
  const name = `edge${++users}`;
  return { username: name, email: `${name}@example.test`, password: "edge-password", password2: "edge-password" };
}

/** A two-hour window at `hour`:00 UTC ten days from now: always outside the 3-day lead time. */
function windowAt(hour: number) {
  const day = 24 * 3600_000;
  const start = new Date(Math.floor(Date.now() / day + 10) * day + hour * 3600_000);
  return { start_at: start.toISOString(), end_at: new Date(start.getTime() + 2 * 3600_000).toISOString() };
}

/** The api instance whose log has a line for request `id`. */
async function instanceThatLogged(instances: ServerProcess[], id: string): Promise<number> {
  const deadline = Date.now() + 3_000;
  while (Date.now() < deadline) {
    const at = instances.findIndex((instance) => instance.lines.some((line) => line.includes(`"request_id":"${id}"`)));
    if (at >= 0) return at;
    await delay(20);
  }
  throw new Error(`no instance logged request ${id}`);
}

Deno.test("nginx in front of three api instances", async (t) => {
  const { upstashUrl, upstashToken } = await startTestServers();
  const env = {
    JWT_SECRET: jwtSecret,
    DATABASE_URL: await freshDatabase(),
    UPSTASH_REDIS_REST_URL: upstashUrl,
    UPSTASH_REDIS_REST_TOKEN: upstashToken,
    TRUST_PROXY: "true",
    REGISTER_LIMIT: String(registerLimit),
  };
  const instances = await Promise.all([1, 2, 3].map(() => startServer(env)));
  const nginxes: Nginx[] = [];
  try {
    const upstreams = instances.map((instance) => new URL(instance.url).host);
    // nginx as the edge itself, plain http; the same with the TLS overlay; and nginx behind an outer load balancer,
    // played by this test from 127.0.0.1.
    const edge = await startNginx({ upstreams });
    nginxes.push(edge);
    const secure = await startNginx({ upstreams, tls: true });
    nginxes.push(secure);
    const behindBalancer = await startNginx({ upstreams, trustedBalancer: "127.0.0.1" });
    nginxes.push(behindBalancer);
    const oversized = JSON.stringify({ username: "x".repeat(2 * 1024 * 1024) });

    await t.step("a client's X-Request-Id passes through nginx to the api and back", async () => {
      const reply = await call(edge, "/healthz", { headers: { "X-Request-Id": "client-chosen-id-7" } });
      assertEquals(reply.status, 200);
      assertEquals(reply.headers.get("x-request-id"), "client-chosen-id-7");
      await instanceThatLogged(instances, "client-chosen-id-7");
    });

    await t.step("an oversized body is nginx's own 413 problem document", async () => {
      const reply = await call(edge, api("/users/"), {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-Request-Id": "too-large-at-the-edge" },
        body: oversized,
      });
      assertEquals(reply.status, 413);
      assertEquals(reply.headers.get("content-type"), "application/problem+json");
      assertEquals(reply.headers.get("x-content-type-options"), "nosniff");
      const { detail, ...problem } = reply.body;
      assertEquals(problem, {
        type: "https://errors.exam-slots.dev/payload-too-large",
        title: "Payload too large",
        status: 413,
        code: "PAYLOAD_TOO_LARGE",
        request_id: "too-large-at-the-edge",
      });
      assertEquals(typeof detail, "string");
    });

    await t.step("a hostile X-Request-Id is replaced by nginx's own, for the api and in nginx's problem", async () => {
      const hostile = `x","code":"INTERNAL","y":{"<script>'\\`;
      const proxied = await call(edge, "/healthz", { headers: { "X-Request-Id": hostile } });
      assertMatch(proxied.headers.get("x-request-id") ?? "", nginxRequestId, "the api echoes the id nginx passed");
      const refused = await call(edge, api("/users/"), {
        method: "POST",
        headers: { "Content-Type": "application/json", "X-Request-Id": hostile },
        body: oversized,
      });
      assertEquals(refused.status, 413);
      assertEquals(typeof refused.body, "object", `not JSON: ${refused.body}`);
      assertEquals(refused.body.code, "PAYLOAD_TOO_LARGE");
      assertMatch(refused.body.request_id, nginxRequestId);
      assertEquals(refused.headers.get("x-request-id"), refused.body.request_id);
    });

    // A customer with two reservations, made through the balancer as a client at 192.0.2.10.
    const client = { "X-Forwarded-For": "192.0.2.10" };
    const customer = newUser();
    assertEquals((await call(behindBalancer, api("/users/"), json(customer, client))).status, 201);
    const login = await call(behindBalancer, api("/users/login/"), json(customer, client));
    const authorization = { ...client, Authorization: `Bearer ${login.body.access}` };
    for (const hour of [8, 12]) {
      const booked = await call(
        behindBalancer,
        api("/reservations/"),
        json({ ...windowAt(hour), headcount: 5 }, authorization),
      );
      assertEquals(booked.status, 201);
    }

    await t.step("requests are spread over the three instances, and every one answers the same", async () => {
      const ids = Array.from({ length: 9 }, (_, i) => `spread-${i}`);
      const replies = await Promise.all(
        ids.map((id) => call(edge, api("/users/me/"), { headers: { ...authorization, "X-Request-Id": id } })),
      );
      for (const reply of replies) assertEquals(reply.body, replies[0].body);
      assertEquals(replies[0].body.email, customer.email);
      const answeredBy = await Promise.all(ids.map((id) => instanceThatLogged(instances, id)));
      assertEquals(new Set(answeredBy).size, 3, `answered by ${answeredBy}`);
    });

    await t.step("behind a trusted balancer the registration limit counts each client nginx forwards", async () => {
      // One client: whatever it writes into X-Forwarded-For itself, the hop the balancer appends is the same.
      const statuses = [];
      for (let i = 0; i <= registerLimit; i++) {
        const headers = { "X-Forwarded-For": `10.9.9.${i}, 198.51.100.7` };
        const reply = await call(behindBalancer, api("/users/"), json(newUser(), headers));
        statuses.push(reply.status);
        if (reply.status === 429) assert(Number(reply.headers.get("retry-after")) > 60, "the api's hourly limit");
      }
      assertEquals(statuses, [...Array(registerLimit).fill(201), 429]);
      const other = await call(behindBalancer, api("/users/"), json(newUser(), { "X-Forwarded-For": "198.51.100.8" }));
      assertEquals(other.status, 201, "another client is not held back");
    });

    await t.step("at the edge a client cannot dodge the registration limit by writing X-Forwarded-For", async () => {
      const statuses = [];
      for (let i = 0; i <= registerLimit; i++) {
        const headers = { "X-Forwarded-For": `198.51.100.${20 + i}` };
        statuses.push((await call(edge, api("/users/"), json(newUser(), headers))).status);
      }
      assertEquals(statuses, [...Array(registerLimit).fill(201), 429]);
    });

    await t.step(
      "a trusted balancer's X-Forwarded-Proto reaches the api and brings HSTS; anyone else's not",
      async () => {
        const firstPage = (nginx: Nginx, proto: Record<string, string>) =>
          call(nginx, api("/reservations/?page_size=1"), { headers: { ...authorization, ...proto } });
        const viaBalancer = await firstPage(behindBalancer, { "X-Forwarded-Proto": "https" });
        assertMatch(viaBalancer.body.next, /^https:\/\//);
        assertEquals(viaBalancer.headers.get("strict-transport-security"), hsts);
        const spoofed = await firstPage(edge, { "X-Forwarded-Proto": "https" });
        assertMatch(spoofed.body.next, /^http:\/\//);
        assertEquals(spoofed.headers.get("strict-transport-security"), null);
      },
    );

    await t.step(
      "with TLS, https answers with HSTS, and plain http only redirects there, but for /healthz",
      async () => {
        const tls = Deno.createHttpClient({ caCerts: [secure.https!.certificate] });
        try {
          const health = await fetch(`${secure.https!.url}/healthz`, { client: tls });
          assertEquals(await health.json(), { status: "ok", db: "ok", cache: "ok" });
          assertEquals(health.headers.get("strict-transport-security"), hsts);
          const me = await fetch(`${secure.https!.url}${api("/users/me/")}`, { client: tls, headers: authorization });
          assertEquals((await me.json()).email, customer.email);
        } finally {
          tls.close();
        }
        const inClear = "login-in-clear-text";
        const login = { ...json(customer, { "X-Request-Id": inClear }), redirect: "manual" as const };
        const redirected = await fetch(`${secure.url}${api("/users/login/")}`, login);
        await redirected.body?.cancel();
        assertEquals(redirected.status, 308, "308 keeps the method and the body");
        assertEquals(redirected.headers.get("location"), `https://127.0.0.1${api("/users/login/")}`);
        const query = api("/availability/?date=2030-01-01");
        const read = await fetch(`${secure.url}${query}`, { headers: authorization, redirect: "manual" });
        await read.body?.cancel();
        assertEquals([read.status, read.headers.get("location")], [308, `https://127.0.0.1${query}`]);
        const health = await call(secure, "/healthz");
        assertEquals(health.body, { status: "ok", db: "ok", cache: "ok" }, "the compose healthcheck probes it");
        assertEquals(health.headers.get("strict-transport-security"), null);
        await delay(200);
        assert(
          !instances.some((i) => i.lines.some((line) => line.includes(inClear))),
          "the login never reached the api",
        );
      },
    );

    await t.step("without the TLS overlay plain http is served as before", async () => {
      const me = await call(edge, api("/users/me/"), { headers: authorization });
      assertEquals(me.body.email, customer.email);
    });
    await t.step("a burst of logins from one address is cut short by nginx with a 429 problem document", async () => {
      // Every email is new, so the api itself would refuse none of them.
      const replies = await Promise.all(
        Array.from(
          { length: 20 },
          (_, i) =>
            call(edge, api("/users/login/"), json({ email: `burst${i}@example.test`, password: "wrong-password" })),
        ),
      );
      const checked = replies.filter((reply) => reply.status === 401);
      const refused = replies.filter((reply) => reply.status === 429);
      assertEquals(checked.length + refused.length, replies.length);
      assert(checked.length <= 12, `${checked.length} logins reached the api`);
      const [problem] = refused;
      assertEquals(problem.headers.get("content-type"), "application/problem+json");
      assertEquals(problem.headers.get("retry-after"), "1");
      assertEquals(problem.body.code, "RATE_LIMITED");
      assertEquals(problem.body.status, 429);
      assertEquals(problem.body.request_id, problem.headers.get("x-request-id"));
    });

    await t.step("a burst of registrations is cut short by nginx as well; reading the user list is not", async () => {
      const burst = (init: () => RequestInit) =>
        Promise.all(Array.from({ length: 12 }, () => call(behindBalancer, api("/users/"), init())));
      const client = { "X-Forwarded-For": "198.51.100.99" };
      const registrations = await burst(() => json(newUser(), client));
      // nginx's refusals say "retry in 1 s"; the api's own (past REGISTER_LIMIT) name its hourly window.
      const byNginx = registrations.filter((reply) => reply.headers.get("retry-after") === "1");
      assert(byNginx.length >= 5, `nginx refused ${byNginx.length} of 12`);
      for (const reply of byNginx) assertEquals([reply.status, reply.body.code], [429, "RATE_LIMITED"]);
      const lists = await burst(() => ({ headers: client }));
      assertEquals(lists.map((reply) => reply.status), Array(12).fill(401));
    });

    await t.step(
      "a burst of authenticated writes from one address is cut short by nginx; reads, anonymous writes not",
      async () => {
        const burst = (init: () => RequestInit) =>
          Promise.all(Array.from({ length: 40 }, () => call(edge, api("/reservations/"), init())));
        // An empty booking: the api refuses it (400) and keeps nothing, so only nginx can answer 429 here.
        const writes = await burst(() => json({}, authorization));
        const byNginx = writes.filter((reply) => reply.status === 429);
        for (const reply of byNginx) {
          assertEquals([reply.body.code, reply.headers.get("retry-after")], ["RATE_LIMITED", "1"]);
        }
        // A burst of 20 passes, and what the 10 a second refill meanwhile.
        assert(byNginx.length >= 10, `nginx refused ${byNginx.length} of 40`);
        assert(writes.every((reply) => [400, 429].includes(reply.status)), `${writes.map((reply) => reply.status)}`);
        const reads = await burst(() => ({ headers: authorization }));
        assertEquals(reads.map((reply) => reply.status), Array(40).fill(200));
        const anonymous = await burst(() => json({}));
        assertEquals(anonymous.map((reply) => reply.status), Array(40).fill(401));
      },
    );
  } finally {
    await Promise.all(nginxes.map((nginx) => nginx.stop()));
    await Promise.all(instances.map(stopServer));
  }
});
