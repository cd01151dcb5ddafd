import { cleanUpOnExit, delay, findExecutable, freePort, run } from "./process.ts";
import { RespConnection } from "./resp.ts";

export type RedisServer = { port: number; url: string; stop(): Promise<void> };

/** A throwaway redis-server on a free loopback port, without persistence. */
export async function startRedis(): Promise<RedisServer> {
  const redisServer = findExecutable("redis-server", ["/usr/bin", "/usr/local/bin"]);
  if (!redisServer) throw new Error("redis-server not found: apt-get install redis-server");
  const dir = await Deno.makeTempDir({ prefix: "exam-slots-redis-" });
  const port = freePort();
  const stop = cleanUpOnExit(dir, `kill "$(cat '${dir}/redis.pid')"; rm -rf '${dir}'`);
  try {
    // Daemonized so it is not a child of the test process (no resource for the test sanitizers to see).
    await run(redisServer, [
      ...["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
      ...["--daemonize", "yes", "--dir", dir, "--pidfile", `${dir}/redis.pid`, "--logfile", `${dir}/redis.log`],
    ]);
    await untilPong(port);
    return { port, url: `redis://127.0.0.1:${port}`, stop };
  } catch (error) {
    await stop().catch(() => {});
    throw error;
  }
}

async function untilPong(port: number) {
  const deadline = Date.now() + 5_000;
  let failure: unknown;
  while (true) {
    try {
      const connection = await RespConnection.open(port);
      try {
        if ((await connection.send([["PING"]]))[0] === "PONG") return;
      } finally {
        connection.close();
      }
    } catch (error) {
      failure = error;
    }
    if (Date.now() > deadline) throw new Error(`redis-server did not answer PING on port ${port}`, { cause: failure });
    await delay(20);
  }
}
