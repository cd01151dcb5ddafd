import net from "node:net";
import tls from "node:tls";
import { PoolerGuard } from "./db-pooler-guard.ts";
import { rowGuard } from "./db-row-guard.ts";
import { FrameScanner } from "./db-wire.ts";

/**
 * How DATABASE_URL asks for TLS (`sslmode`, or `ssl`), read as postgres.js reads it: `require` (and `prefer`,
 * `allow`) encrypt without checking the certificate, `verify-ca`, `verify-full` and `sslrootcert=system` check it
 * and the host name; `prefer` and `allow` go on in plain text when the server declines.
 */
export type TlsMode = "off" | "prefer" | "require" | "verify";

export function tlsModeOf(url: URL): TlsMode {
  if (url.searchParams.get("sslrootcert") === "system") return "verify";
  const mode = url.searchParams.get("sslmode") ?? url.searchParams.get("ssl");
  if (!mode || mode === "disable" || mode === "false") return "off";
  if (mode === "prefer" || mode === "allow") return "prefer";
  return mode === "require" ? "require" : "verify";
}

export type SocketOptions = {
  tls: TlsMode;
  /** Behind a transaction-mode pooler: see db-pooler-guard.ts. */
  pooled: boolean;
  /** How long the TCP connect and the TLS handshake may take together. */
  connectTimeoutMs: number;
};

type DriverTarget = { host: string[]; port: number[]; path?: string };

/**
 * The `socket` option of postgres.js: its connections, with the guards of db-row-guard.ts (and db-pooler-guard.ts
 * behind a pooler) between the driver and the wire. Those read the plain protocol, so this module, not the driver,
 * negotiates TLS: the driver is told the connection is plain and writes its startup message once it is secure.
 *
 * postgres.js's own socket keeps Nagle's algorithm on: a pipelined batch over 1 KB (a keyed confirm with its stored
 * outcome) goes out as two writes, and the second waits for the server's ACK of the first, a whole round trip. libpq
 * sets TCP_NODELAY; so do we. DATABASE_URL names one host: postgres.js's rotation over several is not kept.
 */
export function socketFactory(options: SocketOptions) {
  return (target: DriverTarget): net.Socket | Promise<net.Socket> => {
    const [host, port] = [target.host[0], target.port[0]];
    const socket = Object.assign(new net.Socket(), { host, port }); // host and port name it in connection errors
    socket.once("connect", () => socket.setNoDelay(true));
    if (target.path) socket.connect(target.path);
    else socket.connect(port, host);
    // Plain, it is handed over still connecting, as postgres.js's own is: its connect timeout and errors apply.
    if (options.tls === "off") return guarded(socket, options.pooled);
    return secured(socket, options).then(
      (secure) => guarded(secure, options.pooled),
      (error) => failed(error, host, port),
    );
  };
}

const sslRequest = Uint8Array.of(0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f);

/** Asks the server for TLS on the connecting `socket` and resolves with the encrypted socket (or the plain one). */
function secured(socket: net.Socket & { host: string; port: number }, options: SocketOptions): Promise<net.Socket> {
  const { host, port } = socket;
  return new Promise<net.Socket>((resolve, reject) => {
    const timer = setTimeout(() => {
      fail(Object.assign(new Error(`CONNECT_TIMEOUT ${host}:${port}`), { code: "CONNECT_TIMEOUT" }));
    }, options.connectTimeoutMs);
    const fail = (error: Error) => {
      clearTimeout(timer);
      socket.destroy();
      reject(error);
    };
    socket.once("error", fail);
    socket.once("connect", () => socket.write(sslRequest));
    socket.once("data", (answer: Uint8Array) => {
      // One byte, nothing after it: bytes sent before the handshake would be read as if they came through it.
      if (answer.length !== 1 || (answer[0] !== 0x53 && answer[0] !== 0x4e)) {
        return fail(Object.assign(new Error("the server answered the TLS request wrongly"), { code: "TLS_PROTOCOL" }));
      }
      if (answer[0] === 0x4e) { // 'N'
        if (options.tls !== "prefer") {
          return fail(Object.assign(new Error("the server does not accept TLS"), { code: "TLS_REFUSED" }));
        }
        clearTimeout(timer);
        socket.off("error", fail);
        return resolve(socket);
      }
      const secure = tls.connect({
        socket,
        servername: net.isIP(host) ? undefined : host,
        rejectUnauthorized: options.tls === "verify",
      });
      secure.once("error", fail);
      secure.once("secureConnect", () => {
        clearTimeout(timer);
        socket.off("error", fail);
        secure.off("error", fail);
        resolve(Object.assign(secure, { host, port }));
      });
    });
  });
}

/**
 * A connection that could not be made, as postgres.js expects to learn of it: a socket that fails once the driver
 * listens (a rejected promise instead would leave the driver's connection in its connecting state for good). The
 * startup message the driver writes first is dropped, so the error it gets is this one.
 */
function failed(error: Error, host: string, port: number): net.Socket {
  const socket = Object.assign(new net.Socket(), { host, port, write: () => true });
  setTimeout(() => socket.destroy(error));
  return socket;
}

type Write = (bytes: Uint8Array, done?: (error?: Error | null) => void) => boolean;

/** Puts the guards on the socket's reads (the `data` events) and, behind a pooler, on its writes. */
function guarded(socket: net.Socket, pooled: boolean): net.Socket {
  const rows = rowGuard();
  const send = socket.write.bind(socket) as Write;
  const pooler = pooled ? new PoolerGuard(send) : undefined;
  const scanner = new FrameScanner({ start: rows.see, end: pooler && ((type, last) => pooler.seen(type, last)) });
  const emit = socket.emit.bind(socket);
  socket.emit = ((event: string | symbol, ...args: unknown[]) => {
    if (event !== "data") return emit(event, ...args);
    const chunk = args[0] as Uint8Array;
    scanner.scan(chunk);
    for (const part of rows.mend(chunk)) emit("data", part);
    return true;
  }) as typeof socket.emit;
  if (pooler) {
    socket.write = ((chunk: Uint8Array, ...rest: unknown[]) => {
      const done = rest.find((arg) => typeof arg === "function") as Parameters<Write>[1];
      return pooler.write(chunk, done);
    }) as typeof socket.write;
  }
  return socket;
}
