import { delay } from "./process.ts";

/** A chunk read from one side, and when it may be handed to the other. */
type Held = { bytes: Uint8Array; due: number };

// Bytes held per direction before the proxy stops reading from the sender (back-pressure).
const maxHeldBytes = 1024 * 1024;

/**
 * A TCP proxy on loopback in front of PostgreSQL that holds every chunk `delayMs` in each direction, so the
 * database sits a round trip of 2 × `delayMs` away, and counts the sequential round trips a client waits for.
 *
 * A round trip is a turn of the conversation: the client speaking (on any connection) after the server last
 * spoke. Queries a client sends together — pipelined on one connection or spread over several — are one turn;
 * each query it sends only after reading an answer is another. This needs no knowledge of the protocol, so it
 * counts whatever postgres.js does (a `BEGIN` it awaits, a statement new to a connection that it describes
 * first). It measures one request only while that request is the only one in flight.
 */
export class DelayProxy {
  /** Milliseconds added in each direction; a change applies to chunks read from then on. */
  delayMs: number;
  #turns = 0;
  #lastSpeaker: "client" | "server" = "server";
  #accepted = 0;
  #open = 0;
  #hanging = false;
  readonly #connections = new Set<Deno.TcpConn>();
  readonly #serving = new Set<Promise<void>>();
  readonly #accepting: Promise<void>;
  readonly #listener: Deno.TcpListener;
  /** The database URL the proxy was started with, pointed at the proxy. */
  readonly url: string;

  /** Starts a proxy to the database of `databaseUrl`. */
  constructor(databaseUrl: string, { delayMs = 10 } = {}) {
    this.delayMs = delayMs;
    this.#listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const url = new URL(databaseUrl);
    const target = { hostname: url.hostname, port: Number(url.port || 5432) };
    url.hostname = "127.0.0.1";
    url.port = String(this.#listener.addr.port);
    this.url = url.href;
    this.#accepting = this.#accept(target);
  }

  /** Round trips since the last `reset()` (or the start). */
  roundTrips(): number {
    return this.#turns;
  }

  reset() {
    this.#turns = 0;
    this.#lastSpeaker = "server";
  }

  /** Client connections accepted since the start; one opened during a measurement adds its handshake. */
  acceptedConnections(): number {
    return this.#accepted;
  }

  /** Client connections open right now. */
  openConnections(): number {
    return this.#open;
  }

  /** Cuts every open connection, as a network failure would, and keeps accepting new ones. */
  cut() {
    for (const conn of this.#connections) this.#close(conn);
  }

  /** From now on a database that hangs: open connections are cut, new ones accepted and never answered. */
  hang() {
    this.#hanging = true;
    this.cut();
  }

  /** Stops accepting, cuts every connection and waits until nothing of the proxy is left running. */
  async stop() {
    this.#listener.close();
    await this.#accepting;
    for (const conn of this.#connections) this.#close(conn);
    await Promise.allSettled(this.#serving);
  }

  async #accept(target: Deno.ConnectOptions) {
    try {
      for await (const client of this.#listener) {
        this.#accepted++;
        const serving = this.#serve(client, target).catch(() => {/* a refused or cut connection ends only itself */});
        this.#serving.add(serving);
        serving.finally(() => this.#serving.delete(serving));
      }
    } catch (error) {
      if (!(error instanceof Deno.errors.BadResource)) throw error;
    }
  }

  async #serve(client: Deno.TcpConn, target: Deno.ConnectOptions) {
    this.#connections.add(client);
    this.#open++;
    try {
      if (this.#hanging) return await client.readable.pipeTo(new WritableStream());
      const server = await Deno.connect(target);
      this.#connections.add(server);
      try {
        for (const conn of [client, server]) conn.setNoDelay(true);
        await Promise.allSettled([
          this.#forward(client, server, () => this.#clientSpoke(), () => {}),
          this.#forward(server, client, () => {}, () => this.#lastSpeaker = "server"),
        ]);
      } finally {
        this.#close(server);
      }
    } finally {
      this.#open--;
      this.#close(client);
    }
  }

  #clientSpoke() {
    if (this.#lastSpeaker === "server") this.#turns++;
    this.#lastSpeaker = "client";
  }

  /**
   * Copies `from` to `to`, each chunk `delayMs` after it was read, in order. `read` runs as a chunk arrives,
   * `delivering` just before it is written on (before, so no answer can reach the client unaccounted for).
   */
  #forward(from: Deno.TcpConn, to: Deno.TcpConn, read: () => void, delivering: () => void): Promise<void> {
    const stamp = new TransformStream<Uint8Array, Held>(
      {
        transform: (bytes, controller) => {
          read();
          controller.enqueue({ bytes, due: performance.now() + this.delayMs });
        },
      },
      undefined,
      { highWaterMark: maxHeldBytes, size: (held) => held.bytes.byteLength },
    );
    const deliver = new WritableStream<Held>({
      async write({ bytes, due }) {
        // Timers take whole milliseconds: wait until `due` has really passed, never a fraction before.
        for (let wait = due - performance.now(); wait > 0; wait = due - performance.now()) await delay(Math.ceil(wait));
        delivering();
        for (let written = 0; written < bytes.length;) written += await to.write(bytes.subarray(written));
      },
      close: () => to.closeWrite(),
    });
    return from.readable.pipeThrough(stamp).pipeTo(deliver);
  }

  #close(conn: Deno.TcpConn) {
    if (!this.#connections.delete(conn)) return;
    try {
      conn.close();
    } catch { /* the stream closed it already */ }
  }
}
