import { build, concat, cstringEnd, message, MessageSplitter } from "./db-wire.ts";

type Write = (bytes: Uint8Array, done?: (error?: Error | null) => void) => boolean;

/** Messages sent together, up to a Sync (`synced`) or a Flush; anything else travels on its own. */
type Group = { parts: Uint8Array[]; syncs: number; synced: boolean; done?: (error?: Error | null) => void };

/** The messages of the extended query protocol, which the server answers only at a Sync or a Flush. */
const extendedQuery = new Set<number>([
  message.parse,
  message.bind,
  message.describe,
  message.execute,
  message.close,
  message.flush,
  message.sync,
]);
const statement = 0x53; // 'S' of Describe: a statement, not a portal

/**
 * What a transaction-mode pooler (PgBouncer before 1.21, Supavisor) needs from postgres.js's side of the wire.
 * The pooler hands the client a server connection per transaction, and takes it back at a ReadyForQuery outside
 * one once every Sync sent so far is answered.
 *
 * 1. No named statement reaches the server. postgres.js prepares each statement once per connection and then only
 *    binds it by name, but the next transaction may run on another server, where that name does not exist. Here
 *    every Parse and Describe of a named statement is sent for the unnamed one, and every Bind of it is preceded by
 *    its Parse again: each execution is self-contained, while the driver keeps what it learned from the first
 *    describe (so no describe round trip per query, as `prepare: false` would cost), and the server infers the same
 *    parameter types from the same text.
 * 2. No describe waits behind another query. The driver describes a statement new to its connection with Parse,
 *    Describe and Flush, no Sync; pipelined behind another query, the pooler takes the server back at that query's
 *    ReadyForQuery and drops the describe's answer ("got packet from server when not linked"), and the driver waits
 *    forever. Such a group is held until every Sync before it is answered, outside a transaction (inside one the
 *    pooler keeps the server).
 */
export class PoolerGuard {
  readonly #split = new MessageSplitter();
  /**
   * The unnamed Parse to send before each Bind of a statement, by the driver's name for it: one per statement the
   * driver has prepared on this connection, as many as its own cache holds, and gone with the connection.
   */
  readonly #parses = new Map<string, Uint8Array>();
  #group: Group = emptyGroup();
  readonly #waiting: Group[] = [];
  #unanswered = 0;
  #idle = true;

  constructor(private readonly send: Write) {}

  /** The driver's write: rewritten, then sent now or after the answers it must wait for. */
  write(chunk: Uint8Array, done?: (error?: Error | null) => void): boolean {
    for (const { type, bytes } of this.#split.split(chunk)) this.#take(type, bytes);
    if (done) this.#whenSent(done);
    return this.#drain();
  }

  /** A backend message ended: ReadyForQuery answers a Sync and says whether a transaction is open. */
  seen(type: number, lastByte: number) {
    if (type !== message.readyForQuery) return;
    this.#unanswered = Math.max(0, this.#unanswered - 1);
    this.#idle = lastByte === 0x49; // 'I'
    this.#drain();
  }

  #take(type: number, bytes: Uint8Array) {
    // Besides a Sync, the startup message (untyped) and a simple Query are answered by a ReadyForQuery.
    const answered = type === message.sync || type === 0 || type === message.query ? 1 : 0;
    if (!extendedQuery.has(type) && this.#group.parts.length === 0) {
      return this.#waiting.push({ parts: [bytes], syncs: answered, synced: true });
    }
    this.#group.parts.push(...this.#unnamed(type, bytes));
    this.#group.syncs += answered;
    if (type === message.sync || type === message.flush) {
      this.#group.synced = type === message.sync;
      this.#waiting.push(this.#group);
      this.#group = emptyGroup();
    }
  }

  #unnamed(type: number, bytes: Uint8Array): Uint8Array[] {
    const body = bytes.subarray(5);
    if (type === message.parse) {
      const nameEnd = cstringEnd(body, 0);
      if (nameEnd === 0) return [bytes];
      const unnamed = build(message.parse, new Uint8Array(1), body.subarray(nameEnd + 1));
      this.#parses.set(decode(body.subarray(0, nameEnd)), unnamed);
      return [unnamed];
    }
    if (type === message.bind) {
      const portalEnd = cstringEnd(body, 0);
      const nameEnd = cstringEnd(body, portalEnd + 1);
      const parse = this.#parses.get(decode(body.subarray(portalEnd + 1, nameEnd)));
      if (nameEnd === portalEnd + 1 || !parse) return [bytes];
      return [
        parse,
        build(message.bind, body.subarray(0, portalEnd + 1), new Uint8Array(1), body.subarray(nameEnd + 1)),
      ];
    }
    if (type === message.describe && body[0] === statement && body[1] !== 0) {
      return [build(message.describe, Uint8Array.of(statement, 0))];
    }
    return [bytes];
  }

  /** `done` runs once the bytes written so far are handed to the socket (postgres.js passes one only for COPY). */
  #whenSent(done: (error?: Error | null) => void) {
    const last = this.#waiting.at(-1);
    if (!last) return queueMicrotask(() => done());
    const before = last.done;
    last.done = before ? (error) => (before(error), done(error)) : done;
  }

  #drain(): boolean {
    let flowing = true;
    while (this.#waiting.length > 0) {
      const group = this.#waiting[0];
      if (!group.synced && this.#unanswered > 0 && this.#idle) return true;
      this.#waiting.shift();
      this.#unanswered += group.syncs;
      flowing = this.send(concat(group.parts), group.done);
    }
    return flowing;
  }
}

const emptyGroup = (): Group => ({ parts: [], syncs: 0, synced: false });
const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
