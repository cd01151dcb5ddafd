import { context, type Span, SpanKind, SpanStatusCode } from "@opentelemetry/api";
import type { Sql, Tx } from "./db.ts";
import { observeGauge, tracer } from "./telemetry.ts";

/**
 * What postgres.js 3.x keeps on a query: `handler` sends it to the pool (or the transaction's connection) the first
 * time it is awaited; fragments (`sql\`\``) are never awaited, so they never reach it. `string` is the text sent,
 * with `$n` placeholders for a tagged template's values.
 */
type QueryInternals = { strings: readonly string[]; tagged: boolean; string?: string; handler: Dispatch };
type Dispatch = ((query: QueryInternals) => void) & { debug?: unknown };
type Begin = (...args: unknown[]) => Promise<unknown>;

let inFlight = 0;
observeGauge(
  "db.client.operations.in_flight",
  "Statements outside transactions and transactions under way: each holds a pool connection or waits for one",
  () => inFlight,
);

const spanOptions = (operation: string) => ({
  kind: SpanKind.CLIENT,
  attributes: { "db.system": "postgresql", "db.operation": operation },
});

/** The statement's first keyword, past leading comments: SELECT, INSERT, WITH, CREATE… */
const operationOf = (text: string) => /^\s*(?:--[^\n]*\n\s*)*(\w+)/.exec(text)?.[1].toUpperCase() ?? "QUERY";

/** A failure's SQLSTATE or postgres.js code, never its message: messages can quote the values. */
function failed(span: Span, error: unknown) {
  const code = (error as { code?: unknown } | undefined)?.code;
  span.setStatus({ code: SpanStatusCode.ERROR });
  span.setAttribute("error.type", typeof code === "string" ? code : (error as Error | undefined)?.name ?? "Error");
}

/** Gives `query` a span from the moment it is sent until it settles, as a child of the context it was written in. */
function traceStatement(query: QueryInternals, topLevel: boolean) {
  const parent = context.active();
  const dispatch = query.handler;
  query.handler = Object.assign((sent: QueryInternals) => {
    const operation = operationOf(sent.strings[0] ?? "");
    const span = tracer.startSpan(operation, spanOptions(operation), parent);
    if (topLevel) inFlight++;
    const end = () => {
      if (topLevel) inFlight--;
      // Only a tagged template's text is known to hold no values; sql.unsafe text may.
      if (sent.tagged && sent.string) span.setAttribute("db.statement", sent.string);
      span.end();
    };
    // Promise's own `then` only watches the outcome (the query's would also ask to send it); the caller still sees
    // the rejection.
    Promise.prototype.then.call(sent, end, (error) => (failed(span, error), end()));
    dispatch(sent);
  }, { debug: dispatch.debug });
}

function traceBegin(sql: Sql): Begin {
  return (...args) => {
    const body = args.pop() as (tx: Tx) => unknown;
    return tracer.startActiveSpan("transaction", spanOptions("transaction"), async (span) => {
      inFlight++;
      try {
        return await (sql.begin as Begin)(...args, (tx: Tx) => body(instrument(tx, false)));
      } catch (error) {
        failed(span, error);
        throw error;
      } finally {
        inFlight--;
        span.end();
      }
    });
  };
}

function instrument<T extends Sql | Tx>(sql: T, topLevel: boolean): T {
  const traced = (query: unknown) => (traceStatement(query as QueryInternals, topLevel), query);
  const unsafe = (...args: Parameters<T["unsafe"]>) => traced(Reflect.apply(sql.unsafe, sql, args));
  const begin = topLevel ? traceBegin(sql as Sql) : undefined;
  return new Proxy(sql, {
    apply(target, thisArg, args) {
      const result = Reflect.apply(target, thisArg, args);
      return Array.isArray(args[0]) && "raw" in args[0] ? traced(result) : result;
    },
    get(target, property) {
      if (property === "unsafe") return unsafe;
      if (property === "begin" && begin) return begin;
      return Reflect.get(target, property);
    },
  });
}

/**
 * The same `sql`, with one span per statement and one per transaction (its statements as children), carrying
 * `db.system`, `db.operation` and the statement text with placeholders, never the values. postgres.js has no
 * instrumentation hook, so this is the one place queries are observed.
 */
export const traceSql = (sql: Sql): Sql => instrument(sql, true);
