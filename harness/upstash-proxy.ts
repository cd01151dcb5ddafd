import { RespConnection, RespError, type RespValue } from "./resp.ts";

export type UpstashProxy = { url: string; token: string; stop(): Promise<void> };

type Outcome = { result: unknown } | { error: string };

/** Where the proxy listens and whom it serves; the tests take the defaults (loopback, a free port, a random token). */
export type UpstashProxyOptions = { redisHost?: string; token?: string; hostname?: string; port?: number };

/**
 * Serves the Upstash REST protocol that @upstash/redis speaks (`POST /` one command, `/pipeline`, `/multi-exec`)
 * in front of a redis-server. Each request borrows a connection of its own, so a MULTI…EXEC never interleaves
 * with another request's commands.
 */
export async function startUpstashProxy(redisPort: number, options: UpstashProxyOptions = {}): Promise<UpstashProxy> {
  const { redisHost = "127.0.0.1", token = crypto.randomUUID(), hostname = "127.0.0.1", port = 0 } = options;
  const idle: RespConnection[] = [];

  async function exchange(commands: string[][]) {
    const connection = idle.pop() ?? await RespConnection.open(redisPort, redisHost);
    try {
      const replies = await connection.send(commands);
      idle.push(connection);
      return replies;
    } catch (error) {
      connection.close();
      throw error;
    }
  }

  async function handle(path: string, body: unknown, base64: boolean): Promise<[number, Outcome | Outcome[]]> {
    const outcome = (reply: RespValue): Outcome =>
      reply instanceof RespError ? { error: reply.message } : { result: encode(reply, base64) };
    if (path === "/") {
      const single = outcome((await exchange([commandOf(body)]))[0]);
      return ["error" in single ? 400 : 200, single];
    }
    if (!Array.isArray(body)) throw new TypeError("expected an array of commands");
    const commands = body.map(commandOf);
    if (path === "/pipeline") return [200, (await exchange(commands)).map(outcome)];
    if (path === "/multi-exec") {
      const replies = await exchange([["MULTI"], ...commands, ["EXEC"]]);
      const exec = replies.at(-1)!;
      if (!Array.isArray(exec)) return [400, { error: exec instanceof RespError ? exec.message : "EXEC aborted" }];
      return [200, exec.map(outcome)];
    }
    return [404, { error: `unknown path ${path}` }];
  }

  await exchange([["PING"]]); // fails fast on a wrong port, and leaves a warm connection in the pool
  const server = Deno.serve({ hostname, port, onListen() {} }, async (request) => {
    // As serverless-redis-http does: a plain GET / answers without a token, so a healthcheck can probe it.
    if (request.method === "GET" && new URL(request.url).pathname === "/") return Response.json("Welcome");
    if (request.headers.get("authorization") !== `Bearer ${token}`) {
      return Response.json({ error: "Unauthorized" }, { status: 401 });
    }
    const base64 = request.headers.get("upstash-encoding")?.toLowerCase() === "base64";
    try {
      const [status, payload] = await handle(new URL(request.url).pathname, await request.json(), base64);
      return Response.json(payload, { status });
    } catch (error) {
      const status = error instanceof SyntaxError || error instanceof TypeError ? 400 : 503;
      return Response.json({ error: `ERR ${(error as Error).message}` }, { status });
    }
  });

  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    token,
    async stop() {
      await server.shutdown();
      for (const connection of idle.splice(0)) connection.close();
    },
  };
}

function commandOf(body: unknown): string[] {
  if (!Array.isArray(body) || body.length === 0) throw new TypeError("a command is a non-empty JSON array");
  return body.map((arg) => typeof arg === "string" ? arg : JSON.stringify(arg));
}

/** Upstash's JSON form of a reply: with base64 encoding every string but a plain "OK" is base64. */
function encode(reply: RespValue, base64: boolean): unknown {
  if (reply instanceof RespError) return reply.message;
  if (Array.isArray(reply)) return reply.map((item) => encode(item, base64));
  if (typeof reply === "string") return base64 && reply !== "OK" ? new TextEncoder().encode(reply).toBase64() : reply;
  if (reply instanceof Uint8Array) return base64 ? reply.toBase64() : new TextDecoder().decode(reply);
  return reply;
}
