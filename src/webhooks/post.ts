import http from "node:http";
import https from "node:https";
import { isIP, type LookupFunction } from "node:net";
import { bareHost, TargetRefused } from "./targets.ts";

/** What came of one POST: the receiver's status, or why there was none. */
export type Answer = { status: number; error: string | null } | { status: null; error: string };

export type PostOptions = {
  timeoutMs: number;
  /** The checked addresses of a host (targets.ts `checkedAddresses`): the connection goes to these alone. */
  addressesOf: (hostname: string) => Promise<string[]>;
  /** Extra trusted roots (PEM), for tests; the runtime's own otherwise. */
  ca?: string[];
};

class Timeout extends Error {}

/** Short and free of anything but the kind of failure: the receiver's owner reads it in the attempt list. */
function describe(error: unknown, timeoutMs: number): string {
  if (error instanceof Timeout) return `no answer within ${timeoutMs} ms`;
  if (error instanceof TargetRefused) return error.message;
  const code = (error as { code?: unknown }).code;
  if (code === "ECONNREFUSED") return "connection refused";
  if (code === "ECONNRESET") return "connection reset";
  if (typeof code === "string") return code;
  return String((error as Error).message ?? error).slice(0, 200);
}

/**
 * POSTs `body` to `url` with node:http(s), whose `lookup` hook lets the connection use exactly the addresses that were
 * checked, while TLS (SNI and the certificate) and the Host header still name the URL's host. An IP literal is never
 * looked up, so it is checked before connecting. Redirects are never followed (node:http does not); the response
 * body is not read. The whole attempt, name resolution included, ends after `timeoutMs`.
 */
export function postJson(url: URL, headers: Record<string, string>, body: string, options: PostOptions) {
  const { timeoutMs, addressesOf } = options;
  return new Promise<Answer>((resolve) => {
    let request: http.ClientRequest | undefined;
    let settled = false;
    const settle = (answer: Answer) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(answer);
    };
    const fail = (error: unknown) => {
      settle({ status: null, error: describe(error, timeoutMs) });
      request?.destroy();
    };
    const timer = setTimeout(() => fail(new Timeout()), timeoutMs);
    const lookup: LookupFunction = (hostname, lookupOptions, callback) => {
      addressesOf(hostname).then((addresses) => {
        const found = addresses.map((address) => ({ address, family: isIP(address) }));
        if (lookupOptions.all) callback(null, found);
        else callback(null, found[0].address, found[0].family);
      }, (error) => callback(error, "", 0));
    };
    const send = () => {
      if (settled) return;
      const transport = url.protocol === "https:" ? https : http;
      request = transport.request(url, {
        method: "POST",
        headers: { ...headers, "content-length": String(new TextEncoder().encode(body).length) },
        agent: false,
        lookup,
        ...(options.ca ? { ca: options.ca } : {}),
      }, (response) => {
        const status = response.statusCode ?? 0;
        settle({ status, error: status >= 300 && status < 400 ? "redirects are not followed" : null });
        response.destroy();
      });
      request.on("error", fail);
      request.end(body);
    };
    const host = bareHost(url.hostname);
    if (isIP(host)) addressesOf(host).then(send, fail);
    else send();
  });
}
