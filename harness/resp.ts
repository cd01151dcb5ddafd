/** A reply from Redis: simple strings as text, bulk strings as bytes, errors as RespError. */
export type RespValue = string | number | Uint8Array | null | RespError | RespValue[];

export class RespError extends Error {}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** One connection to redis-server speaking RESP2. Not shared: callers use it for one exchange at a time. */
export class RespConnection {
  #buffer = new Uint8Array(0);

  private constructor(private readonly conn: Deno.TcpConn) {}

  static async open(port: number, hostname = "127.0.0.1"): Promise<RespConnection> {
    return new RespConnection(await Deno.connect({ hostname, port }));
  }

  /** Sends the commands in one write and reads their replies in order. */
  async send(commands: string[][]): Promise<RespValue[]> {
    const wire = commands.map((args) => `*${args.length}\r\n${args.map(bulk).join("")}`).join("");
    await writeAll(this.conn, encoder.encode(wire));
    const replies: RespValue[] = [];
    while (replies.length < commands.length) replies.push(await this.#read());
    return replies;
  }

  close() {
    this.conn.close();
  }

  async #read(): Promise<RespValue> {
    while (true) {
      const parsed = parse(this.#buffer, 0);
      if (parsed) {
        this.#buffer = this.#buffer.subarray(parsed.end);
        return parsed.value;
      }
      const chunk = new Uint8Array(64 * 1024);
      const n = await this.conn.read(chunk);
      if (n === null) throw new Error("redis-server closed the connection");
      const grown = new Uint8Array(this.#buffer.length + n);
      grown.set(this.#buffer);
      grown.set(chunk.subarray(0, n), this.#buffer.length);
      this.#buffer = grown;
    }
  }
}

function bulk(arg: string) {
  return `$${encoder.encode(arg).length}\r\n${arg}\r\n`;
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array) {
  for (let written = 0; written < bytes.length;) written += await conn.write(bytes.subarray(written));
}

/** Parses one reply starting at `start`; undefined when the buffer does not hold all of it yet. */
function parse(buffer: Uint8Array, start: number): { value: RespValue; end: number } | undefined {
  const lineEnd = buffer.indexOf(10, start); // "\n" of the header's "\r\n"
  if (lineEnd < 0) return undefined;
  const line = decoder.decode(buffer.subarray(start + 1, lineEnd - 1));
  const next = lineEnd + 1;
  switch (String.fromCharCode(buffer[start])) {
    case "+":
      return { value: line, end: next };
    case "-":
      return { value: new RespError(line), end: next };
    case ":":
      return { value: Number(line), end: next };
    case "$": {
      const length = Number(line);
      if (length < 0) return { value: null, end: next };
      if (buffer.length < next + length + 2) return undefined;
      return { value: buffer.slice(next, next + length), end: next + length + 2 };
    }
    case "*": {
      const count = Number(line);
      if (count < 0) return { value: null, end: next };
      const items: RespValue[] = [];
      let end = next;
      for (let i = 0; i < count; i++) {
        const item = parse(buffer, end);
        if (!item) return undefined;
        items.push(item.value);
        end = item.end;
      }
      return { value: items, end };
    }
    default:
      throw new Error(`unexpected RESP reply: ${line}`);
  }
}
