import type { Context } from "hono";

/**
 * Where a request comes from. With TRUST_PROXY it is the last X-Forwarded-For hop, the one our own proxy
 * appended (earlier hops are whatever the client wrote); otherwise the connection's peer. Undefined for an
 * in-process call (`app.request`), which has no connection.
 */
export function clientAddress(c: Context, trustProxy: boolean): string | undefined {
  if (trustProxy) {
    const hop = c.req.header("X-Forwarded-For")?.split(",").at(-1)?.trim();
    if (hop) return hop;
  }
  const peer = (c.env as Partial<Deno.ServeHandlerInfo> | undefined)?.remoteAddr;
  return peer && "hostname" in peer ? peer.hostname : undefined;
}
