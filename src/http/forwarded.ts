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

/**
 * The URL the client asked for, for absolute links. Behind a trusted proxy that ends TLS, the request reaching us
 * is plain http: the scheme (and host, when the proxy rewrote it) the client used come in X-Forwarded-*.
 */
export function publicUrl(c: Context, trustProxy: boolean): string {
  if (!trustProxy) return c.req.url;
  const url = new URL(c.req.url);
  const first = (name: string) => c.req.header(name)?.split(",")[0].trim();
  const proto = first("X-Forwarded-Proto");
  const host = first("X-Forwarded-Host");
  if (proto === "http" || proto === "https") url.protocol = `${proto}:`;
  if (host) url.host = host;
  return url.toString();
}
