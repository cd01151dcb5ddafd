export type LogRecord = Record<string, unknown>;

/** Structured logs: one JSON object per line. */
export type Logger = { info(record: LogRecord): void; error(record: LogRecord): void };

export const jsonLogger: Logger = {
  info: (record) => console.log(JSON.stringify({ level: "info", time: new Date().toISOString(), ...record })),
  error: (record) => console.error(JSON.stringify({ level: "error", time: new Date().toISOString(), ...record })),
};

export const silentLogger: Logger = { info: () => {}, error: () => {} };
