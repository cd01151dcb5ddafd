import { rejects } from "node:assert/strict";
import postgres from "postgres";
import { Redis } from "@upstash/redis";
import { assert, assertEquals, assertNotEquals } from "./support/assert.ts";
import { freshDatabase, startTestServers } from "../harness/servers.ts";

Deno.test("each fresh database is an empty PostgreSQL 15 database of its own", async () => {
  const [first, second] = await Promise.all([freshDatabase(), freshDatabase()]);
  assertNotEquals(first, second);
  const a = postgres(first, { onnotice: () => {} });
  const b = postgres(second, { onnotice: () => {} });
  try {
    const [{ server_version }] = await a`SHOW server_version`;
    assert(server_version.startsWith("15."), server_version);
    await a`CREATE TABLE only_here (id int)`;
    const [{ count }] = await b`SELECT count(*)::int AS count FROM pg_tables WHERE tablename = 'only_here'`;
    assertEquals(count, 0);
  } finally {
    await Promise.all([a.end(), b.end()]);
  }
});

Deno.test("PostgreSQL can be taken down and brought back while a client keeps its pool", async () => {
  const { postgres: server } = await startTestServers();
  const sql = postgres(await freshDatabase(), { max: 2, onnotice: () => {} });
  try {
    await sql`CREATE TABLE survives (id int)`;
    await sql`INSERT INTO survives VALUES (1)`;
    await server.stop();
    await rejects(sql`SELECT 1`);
    await server.start();
    await server.restart();
    const [{ count }] = await sql`SELECT count(*)::int AS count FROM survives`;
    assertEquals(count, 1);
  } finally {
    await sql.end();
  }
});

Deno.test("the Upstash proxy speaks the protocol @upstash/redis expects", async () => {
  const { upstashUrl: url, upstashToken: token } = await startTestServers();
  const redis = new Redis({ url, token, enableTelemetry: false });
  assertEquals(await redis.ping(), "PONG");
  assertEquals(await redis.set("hold", "1", { nx: true, ex: 60 }), "OK");
  assertEquals(await redis.set("hold", "1", { nx: true, ex: 60 }), null);
  assertEquals(await redis.exists("hold", "missing"), 1);
  assertEquals(await redis.incr("hits"), 1);
  assertEquals(await redis.expire("hits", 30, "NX"), 1);
  assertEquals(await redis.expire("hits", 99, "NX"), 0);
  assertEquals(await redis.ttl("hits"), 30);
  assertEquals(await redis.multi().incr("hits").expire("hits", 30, "NX").ttl("hits").exec(), [2, 0, 30]);
  assertEquals(await redis.get("hits"), 2);
  assertEquals(await redis.set("text", "héllo ✓ 42x"), "OK");
  assertEquals(await redis.get("text"), "héllo ✓ 42x");
  assertEquals(await redis.pipeline().del("hold").get("hold").exec(), [1, null]);
  assertEquals(await redis.del("hits", "text"), 2);
  await redis.set("word", "abc");
  await rejects(redis.incr("word"), /ERR value is not an integer/);
});

Deno.test("the Upstash proxy reports Redis errors as Upstash does", async () => {
  const { upstashUrl: url, upstashToken: token } = await startTestServers();
  const post = (path: string, body: unknown, auth = token) =>
    fetch(`${url}${path}`, { method: "POST", headers: { authorization: `Bearer ${auth}` }, body: JSON.stringify(body) })
      .then(async (response) => [response.status, await response.json()]);
  await post("/", ["SET", "word", "abc"]);
  assertEquals(await post("/", ["INCR", "word"]), [400, { error: "ERR value is not an integer or out of range" }]);
  assertEquals(await post("/pipeline", [["INCR", "word"], ["GET", "word"]]), [200, [
    { error: "ERR value is not an integer or out of range" },
    { result: "abc" },
  ]]);
  assertEquals((await post("/multi-exec", [["NOSUCHCOMMAND"]]))[0], 400);
  assertEquals(await post("/", ["PING"], "wrong-token"), [401, { error: "Unauthorized" }]);
});

Deno.test("concurrent transactions through the proxy do not interleave", async () => {
  const { upstashUrl: url, upstashToken: token } = await startTestServers();
  const redis = new Redis({ url, token, enableTelemetry: false });
  const results = await Promise.all(
    Array.from({ length: 50 }, () => redis.multi().incr("counter").get<number>("counter").exec()),
  );
  for (const [incremented, read] of results) assertEquals(read, incremented);
  assertEquals(new Set(results.map(([incremented]) => incremented)).size, 50);
});
