// The PostgreSQL wire protocol (v3) as far as the socket guards need it: message boundaries and a few message types.
// https://www.postgresql.org/docs/15/protocol-message-formats.html

/** Message types, by their first byte: some letters mean one thing from the backend and another from the frontend. */
export const message = {
  // backend
  dataRow: 0x44, // D
  commandComplete: 0x43, // C
  errorResponse: 0x45, // E
  readyForQuery: 0x5a, // Z
  emptyQuery: 0x49, // I
  portalSuspended: 0x73, // s
  // frontend
  parse: 0x50, // P
  bind: 0x42, // B
  describe: 0x44, // D
  execute: 0x45, // E
  close: 0x43, // C
  flush: 0x48, // H
  sync: 0x53, // S
  query: 0x51, // Q
} as const;

type FrameEvents = {
  /** A message begins at `at` (its type byte) in the chunk being scanned. */
  start?(type: number, at: number): void;
  /** A message ended; `lastByte` is its final byte (ReadyForQuery's transaction status). */
  end?(type: number, lastByte: number): void;
};

/**
 * Follows the messages of the backend's stream chunk by chunk without copying it: a message may begin, and its
 * length field may end, in any chunk. Only headers are read byte by byte; bodies are skipped whole.
 */
export class FrameScanner {
  #phase: "type" | "length" | "body" = "type";
  #type = 0;
  #lengthRead = 0;
  #length = 0;
  #left = 0;

  constructor(private readonly events: FrameEvents) {}

  scan(chunk: Uint8Array) {
    for (let i = 0; i < chunk.length;) {
      if (this.#phase === "type") {
        this.#type = chunk[i];
        this.events.start?.(this.#type, i++);
        [this.#phase, this.#lengthRead, this.#length] = ["length", 0, 0];
      } else if (this.#phase === "length") {
        this.#length = this.#length * 256 + chunk[i++];
        if (++this.#lengthRead < 4) continue;
        this.#left = this.#length - 4;
        this.#phase = "body";
        if (this.#left === 0) this.#ended(chunk[i - 1]);
      } else {
        const taken = Math.min(this.#left, chunk.length - i);
        i += taken;
        this.#left -= taken;
        if (this.#left === 0) this.#ended(chunk[i - 1]);
      }
    }
  }

  #ended(lastByte: number) {
    this.#phase = "type";
    this.events.end?.(this.#type, lastByte);
  }
}

/**
 * Cuts the frontend's stream into whole messages (type byte, then length), keeping a partial one for the next
 * chunk. The first message of a connection (the startup or cancel request) has no type byte: `untyped` marks it.
 */
export class MessageSplitter {
  #pending = new Uint8Array(0);
  #untyped = true;

  split(chunk: Uint8Array): { type: number; bytes: Uint8Array }[] {
    const all = this.#pending.length === 0 ? chunk : concat([this.#pending, chunk]);
    const messages = [];
    let at = 0;
    while (true) {
      const header = this.#untyped ? 0 : 1;
      if (all.length - at < header + 4) break;
      const view = new DataView(all.buffer, all.byteOffset + at + header, 4);
      const end = at + header + view.getInt32(0);
      if (end > all.length) break;
      messages.push({ type: this.#untyped ? 0 : all[at], bytes: all.subarray(at, end) });
      this.#untyped = false;
      at = end;
    }
    this.#pending = all.slice(at);
    return messages;
  }
}

/** A message of `type` with these parts as its body. */
export function build(type: number, ...parts: Uint8Array[]): Uint8Array {
  const body = concat(parts);
  const bytes = new Uint8Array(5 + body.length);
  bytes[0] = type;
  new DataView(bytes.buffer).setInt32(1, 4 + body.length);
  bytes.set(body, 5);
  return bytes;
}

/** The end (index of the NUL) of the C string starting at `from`. */
export const cstringEnd = (bytes: Uint8Array, from: number) => bytes.indexOf(0, from);

export function concat(parts: Uint8Array[]): Uint8Array {
  if (parts.length === 1) return parts[0];
  const bytes = new Uint8Array(parts.reduce((sum, part) => sum + part.length, 0));
  let at = 0;
  for (const part of parts) {
    bytes.set(part, at);
    at += part.length;
  }
  return bytes;
}
