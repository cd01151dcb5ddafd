import { assert, assertEquals, assertMatch } from "./support/assert.ts";
import {
  hashPassword,
  passwordQueueLength,
  startPasswordWorkers,
  stopPasswordWorkers,
  verifyPassword,
} from "../src/auth/passwords.ts";
import { AppError } from "../src/http/problem.ts";
import { call, json, jwtSecret, startServer, stopServer } from "../harness/server-process.ts";
import { freshDatabase } from "../harness/servers.ts";
import { api } from "../harness/paths.ts";

/** Runs `body` with hashing on `workers` threads, and always stops them. */
async function withWorkers(workers: number, queueLimit: number, body: () => Promise<void>) {
  const hashing = await startPasswordWorkers({ workers, queueLimit });
  try {
    assertMatch(hashing, /worker threads/);
    await body();
  } finally {
    stopPasswordWorkers();
  }
}

/** The longest gap between timer callbacks while `work` runs: how long this thread could not serve anything. */
async function longestStall(work: () => Promise<unknown>): Promise<number> {
  let longest = 0;
  let last = performance.now();
  let done = false;
  const tick = () => {
    const now = performance.now();
    longest = Math.max(longest, now - last);
    last = now;
    if (!done) setTimeout(tick, 1);
  };
  setTimeout(tick, 1);
  await work();
  done = true;
  return longest;
}

Deno.test("password hashing – a hash on the workers leaves this thread free (in-thread bcryptjs stalls it ~100 ms at a time)", async () => {
  await withWorkers(1, 4, async () => {
    const stall = await longestStall(() => hashPassword("a-long-enough-password", 12));
    assert(stall < 40, `this thread stalled ${stall.toFixed(1)} ms`);
  });
});

Deno.test("password hashing – hashes and comparisons from the workers are real bcrypt, unknown emails included", async () => {
  await withWorkers(2, 4, async () => {
    const hash = await hashPassword("correct horse", 4);
    assertMatch(hash, /^\$2b\$04\$/);
    assertEquals(await verifyPassword("correct horse", hash, 4), true);
    assertEquals(await verifyPassword("wrong horse", hash, 4), false);
    assertEquals(await verifyPassword("any", undefined, 4), false);
  });
});

Deno.test("password hashing – past the queue limit a hash is refused at once with 503 and Retry-After", async () => {
  await withWorkers(1, 2, async () => {
    const accepted = [hashPassword("running-1", 10), hashPassword("waiting-1", 10), hashPassword("waiting-2", 10)];
    assertEquals(passwordQueueLength(), 2);
    const refused = await hashPassword("one-too-many", 10).then(() => undefined, (error) => error);
    assert(refused instanceof AppError, String(refused));
    assertEquals(refused.code, "SERVICE_UNAVAILABLE");
    assertEquals(refused.status, 503);
    assertEquals(refused.extra.headers, { "Retry-After": "1" });
    assertEquals((await Promise.all(accepted)).length, 3);
    assertEquals(passwordQueueLength(), 0);
  });
});

Deno.test("password hashing – on this thread (PASSWORD_WORKERS=0, Deno Deploy) hashes run one at a time, and past the queue limit one is refused with 503", async () => {
  assertMatch(await startPasswordWorkers({ workers: 0, queueLimit: 2 }), /in-thread, queue limit: 2/);
  try {
    const accepted = [hashPassword("running-1", 8), hashPassword("waiting-1", 8), hashPassword("waiting-2", 8)];
    assertEquals(passwordQueueLength(), 2);
    const refused = await verifyPassword("one-too-many", undefined, 8).then(() => undefined, (error) => error);
    assert(refused instanceof AppError, String(refused));
    assertEquals([refused.code, refused.extra.headers], ["SERVICE_UNAVAILABLE", { "Retry-After": "1" }]);
    assertEquals((await Promise.all(accepted)).length, 3);
    assertEquals(passwordQueueLength(), 0);
    assertMatch(await hashPassword("a place again", 4), /^\$2b\$04\$/);
  } finally {
    stopPasswordWorkers();
  }
});

Deno.test("password hashing – stopping the workers fails what waits and falls back to this thread", async () => {
  await startPasswordWorkers({ workers: 1, queueLimit: 4 });
  const pending = [hashPassword("running", 10), hashPassword("waiting", 10)].map((p) =>
    p.then(() => "done", () => "failed")
  );
  stopPasswordWorkers();
  assertEquals(await Promise.all(pending), ["failed", "failed"]);
  assertEquals(passwordQueueLength(), 0);
  assertMatch(await hashPassword("in-thread again", 4), /^\$2b\$04\$/);
  assertEquals(
    await startPasswordWorkers({ workers: 0, queueLimit: 4 }),
    "in-thread, queue limit: 4 (PASSWORD_WORKERS=0)",
  );
});

Deno.test("password hashing – a server whose hashing queue is full answers a login with a 503 problem and Retry-After", async () => {
  const server = await startServer({
    JWT_SECRET: jwtSecret,
    DATABASE_URL: await freshDatabase(),
    BCRYPT_COST: "12",
    PASSWORD_WORKERS: "1",
    PASSWORD_QUEUE_LIMIT: "1",
  });
  try {
    const account = {
      username: "stormy",
      email: "stormy@example.test",
      password: "stormy-pass",
      password2: "stormy-pass",
    };
    assertEquals((await call(server, api("/users/"), json(account))).status, 201);
    const logins = await Promise.all(
      Array.from(
        { length: 6 },
        () => call(server, api("/users/login/"), json({ email: account.email, password: account.password })),
      ),
    );
    const statuses = logins.map((reply) => reply.status).sort();
    assertEquals(statuses, [200, 200, 503, 503, 503, 503]);
    const refused = logins.find((reply) => reply.status === 503)!;
    assertEquals(refused.headers.get("content-type"), "application/problem+json");
    assertEquals(refused.body.code, "SERVICE_UNAVAILABLE");
    assertEquals(refused.headers.get("retry-after"), "1");
  } finally {
    await stopServer(server);
  }
});

Deno.test("password hashing – GET /users/me stays fast on a server in a login storm", async () => {
  const server = await startServer({
    JWT_SECRET: jwtSecret,
    DATABASE_URL: await freshDatabase(),
    BCRYPT_COST: "11",
    PASSWORD_WORKERS: "1",
  });
  try {
    const account = {
      username: "calm",
      email: "calm@example.test",
      password: "calm-password",
      password2: "calm-password",
    };
    assertEquals((await call(server, api("/users/"), json(account))).status, 201);
    const credentials = json({ email: account.email, password: account.password });
    const { access } = (await call(server, api("/users/login/"), credentials)).body;
    const me = { headers: { Authorization: `Bearer ${access}` } };

    const until = performance.now() + 2000;
    const storm = Array.from({ length: 4 }, async () => {
      while (performance.now() < until) {
        assertEquals((await call(server, api("/users/login/"), credentials)).status, 200);
      }
    });
    const latencies: number[] = [];
    while (performance.now() < until) {
      const started = performance.now();
      assertEquals((await call(server, api("/users/me/"), me)).status, 200);
      latencies.push(performance.now() - started);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    await Promise.all(storm);
    const median = latencies.sort((a, b) => a - b)[Math.floor(latencies.length / 2)];
    // On the request thread bcryptjs holds it for ~100 ms at a time, and the median is in the hundreds.
    assert(median < 50, `GET /users/me median ${median.toFixed(1)} ms during the storm`);
  } finally {
    await stopServer(server);
  }
});

Deno.test("password hashing – a login refused for a full hashing queue is no failed guess", async () => {
  const server = await startServer({
    JWT_SECRET: jwtSecret,
    DATABASE_URL: await freshDatabase(),
    BCRYPT_COST: "11",
    PASSWORD_WORKERS: "1",
    PASSWORD_QUEUE_LIMIT: "1",
    LOGIN_LIMIT: "3",
  });
  try {
    const account = {
      username: "queued",
      email: "queued@example.test",
      password: "queued-pass",
      password2: "queued-pass",
    };
    assertEquals((await call(server, api("/users/"), json(account))).status, 201);
    const credentials = json({ email: account.email, password: account.password });
    // Three at once: one on the worker, one queued, one refused. Counted as failures, the refusals would add up to
    // the limit within a few bursts.
    const statuses = [];
    for (let burst = 0; burst < 4; burst++) {
      const replies = await Promise.all(
        Array.from({ length: 3 }, () => call(server, api("/users/login/"), credentials)),
      );
      statuses.push(...replies.map((reply) => reply.status));
    }
    assert(statuses.includes(503), "the queue refused none");
    assertEquals(statuses.filter((status) => status !== 200 && status !== 503), []);
    assertEquals((await call(server, api("/users/login/"), credentials)).status, 200);
  } finally {
    await stopServer(server);
  }
});
