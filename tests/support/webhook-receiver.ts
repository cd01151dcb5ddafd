// A webhook receiver on 127.0.0.1 that records every request and answers as the test says: a status, a hang past the
// sender's timeout, or nothing at all (down). It keeps its port across down/up, so a registered URL stays valid.
import { delay, freePort } from "../../harness/process.ts";

export type Received = {
  id: string;
  timestamp: string;
  signature: string;
  body: string;
  // deno-lint-ignore no-explicit-any -- the delivered JSON, checked field by field
  json: any;
  headers: Record<string, string>;
  path: string;
  host: string | null;
  /** performance.now() when it arrived. */
  arrivedAt: number;
  /** The status answered, or "hung" for a request held past the sender's timeout. */
  answer?: number | "hung";
};

/** How to answer a request: a status, a redirect, or hang for `hangMs` before a 200 the sender no longer waits for. */
export type Reply = number | { status: number; location: string } | { hangMs: number };

export type ReceiverOptions = { tls?: { cert: string; key: string } };

export function startWebhookReceiver({ tls }: ReceiverOptions = {}) {
  const port = freePort();
  const received: Received[] = [];
  let reply: (request: Received) => Reply = () => 204;
  let server: Deno.HttpServer | undefined;
  // Requests under way per path and per (path, webhook-id), and the most there ever were at once.
  const underWay = new Map<string, number>();
  const most = new Map<string, number>();
  const enter = (key: string) => {
    const now = (underWay.get(key) ?? 0) + 1;
    underWay.set(key, now);
    most.set(key, Math.max(most.get(key) ?? 0, now));
  };
  const leave = (key: string) => underWay.set(key, underWay.get(key)! - 1);
  // A sender that died is not always noticed: going down lets every held request go.
  const hanging = new Set<() => void>();

  async function handle(request: Request): Promise<Response> {
    const body = await request.text();
    const header = (name: string) => request.headers.get(name) ?? "";
    const entry: Received = {
      id: header("webhook-id"),
      timestamp: header("webhook-timestamp"),
      signature: header("webhook-signature"),
      body,
      json: JSON.parse(body || "null"),
      headers: Object.fromEntries(request.headers),
      path: new URL(request.url).pathname,
      host: request.headers.get("host"),
      arrivedAt: performance.now(),
    };
    received.push(entry);
    const keys = [entry.path, `${entry.path} ${entry.id}`];
    keys.forEach(enter);
    try {
      const answer = reply(entry);
      if (typeof answer === "number") {
        entry.answer = answer;
        return new Response(null, { status: answer });
      }
      if ("location" in answer) {
        entry.answer = answer.status;
        return new Response(null, { status: answer.status, headers: { Location: answer.location } });
      }
      // Held until the sender gives up (it closes the connection) or `hangMs` pass.
      entry.answer = "hung";
      await new Promise<void>((resolve) => {
        const release = () => {
          clearTimeout(timer);
          hanging.delete(release);
          resolve();
        };
        const timer = setTimeout(release, answer.hangMs);
        hanging.add(release);
        request.signal.addEventListener("abort", release, { once: true });
      });
      return new Response(null, { status: 200 });
    } finally {
      keys.forEach(leave);
    }
  }

  async function down() {
    for (const release of [...hanging]) release();
    await server?.shutdown();
    server = undefined;
  }
  const up = () => {
    server = Deno.serve({ hostname: "127.0.0.1", port, onListen: () => {}, ...tls }, handle);
  };
  up();

  return {
    port,
    received,
    /** The most requests to `path` there were at once. */
    mostAtOnce: (path: string) => most.get(path) ?? 0,
    /** The most requests to `path` for one webhook-id there were at once. */
    mostAtOnceForOneEvent: (path: string) =>
      Math.max(0, ...[...most].filter(([key]) => key.startsWith(`${path} `)).map(([, n]) => n)),
    /** The URL of `path` on this receiver, by address or by a host name the test's resolver maps to 127.0.0.1. */
    url: (path = "/hooks", host = "127.0.0.1") => `${tls ? "https" : "http"}://${host}:${port}${path}`,
    /** How every request from now on is answered. */
    replyWith(rule: (request: Received) => Reply) {
      reply = rule;
    },
    /** Requests whose answer was a 2xx the sender saw. */
    delivered: () => received.filter((r) => typeof r.answer === "number" && r.answer >= 200 && r.answer < 300),
    down,
    up,
    /** Polls until `check` passes (returns true), or throws after `timeoutMs` with `what`. */
    async waitFor(what: string, check: () => boolean, timeoutMs = 15_000) {
      const deadline = Date.now() + timeoutMs;
      while (!check()) {
        if (Date.now() > deadline) throw new Error(`waited ${timeoutMs} ms for ${what}; got ${received.length}`);
        await delay(20);
      }
    },
    close: down,
  };
}

export type WebhookReceiver = ReturnType<typeof startWebhookReceiver>;
