export type LogRecord = Record<string, unknown>;

/** Structured logs: one JSON object per line. */
export type Logger = { info(record: LogRecord): void; error(record: LogRecord): void };

type Sink = { writeSync(bytes: Uint8Array): number };

const encoder = new TextEncoder();
const flushAfterMs = 10;
const flushAtBytes = 64 * 1024;

/**
 * Lines wait a few milliseconds and go out in one write: a write per request was a measurable share of a
 * short request's CPU (README, Performance). `flush()` writes what is waiting, for shutdown.
 */
class LineBuffer {
  #lines: string[] = [];
  #size = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  constructor(private readonly sink: Sink) {}

  push(line: string) {
    this.#lines.push(line);
    this.#size += line.length + 1;
    if (this.#size >= flushAtBytes) this.flush();
    else this.#timer ??= setTimeout(() => this.flush(), flushAfterMs);
  }

  flush() {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#lines.length === 0) return;
    const bytes = encoder.encode(this.#lines.join("\n") + "\n");
    this.#lines = [];
    this.#size = 0;
    for (let written = 0; written < bytes.length;) written += this.sink.writeSync(bytes.subarray(written));
  }
}

const line = (level: string, record: LogRecord) => JSON.stringify({ level, time: new Date().toISOString(), ...record });

export function createJsonLogger(out: Sink = Deno.stdout, err: Sink = Deno.stderr): Logger & { flush(): void } {
  const stdout = new LineBuffer(out);
  const stderr = new LineBuffer(err);
  return {
    info: (record) => stdout.push(line("info", record)),
    error: (record) => stderr.push(line("error", record)),
    flush: () => {
      stdout.flush();
      stderr.flush();
    },
  };
}

/**
 * The same lines through `console`, unbuffered: with OpenTelemetry on (and on Deno Deploy) Deno exports each
 * console call as a log record carrying the trace and span of the request that wrote it.
 */
export function createConsoleLogger(): Logger & { flush(): void } {
  return {
    info: (record) => console.log(line("info", record)),
    error: (record) => console.error(line("error", record)),
    flush: () => {},
  };
}

export const silentLogger: Logger = { info: () => {}, error: () => {} };
