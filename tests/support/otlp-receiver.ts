// A stand-in for an OpenTelemetry Collector: OTLP/HTTP with the JSON encoding, on loopback, keeping what it gets.

export type OtlpValue = {
  stringValue?: string;
  intValue?: string | number;
  doubleValue?: number;
  boolValue?: boolean;
};
export type OtlpAttribute = { key: string; value: OtlpValue };

export type ReceivedSpan = {
  /** The exporting process's service.name (OTEL_SERVICE_NAME). */
  service?: string;
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  kind: number;
  attributes?: OtlpAttribute[];
  status?: { code?: number; message?: string };
  events?: { name: string; attributes?: OtlpAttribute[] }[];
};

export type ReceivedLog = {
  traceId?: string;
  spanId?: string;
  severityText?: string;
  body?: OtlpValue;
};

type DataPoint = { attributes?: OtlpAttribute[]; asInt?: string | number; asDouble?: number; count?: string | number };
export type ReceivedMetric = {
  name: string;
  sum?: { dataPoints: DataPoint[] };
  gauge?: { dataPoints: DataPoint[] };
  histogram?: { dataPoints: DataPoint[] };
};

/** The value of attribute `key` as a string or number, or undefined. */
export function attribute(item: { attributes?: OtlpAttribute[] }, key: string): string | number | boolean | undefined {
  const value = item.attributes?.find((a) => a.key === key)?.value;
  if (!value) return undefined;
  if (value.intValue !== undefined) return Number(value.intValue);
  return value.stringValue ?? value.doubleValue ?? value.boolValue;
}

/** A data point's value: a counter's or gauge's number, or a histogram's count. */
export const pointValue = (point: DataPoint) => Number(point.asInt ?? point.asDouble ?? point.count ?? 0);

async function decode(request: Request): Promise<unknown> {
  let body = request.body ?? new Blob().stream();
  if (request.headers.get("content-encoding") === "gzip") body = body.pipeThrough(new DecompressionStream("gzip"));
  return JSON.parse(await new Response(body).text());
}

type Resource = { attributes?: OtlpAttribute[] };
type Documents = {
  "/v1/traces": { resourceSpans: { resource?: Resource; scopeSpans: { spans: ReceivedSpan[] }[] }[] };
  "/v1/logs": { resourceLogs: { scopeLogs: { logRecords: ReceivedLog[] }[] }[] };
  "/v1/metrics": { resourceMetrics: { scopeMetrics: { metrics: ReceivedMetric[] }[] }[] };
};

/** Starts the receiver; point `OTEL_EXPORTER_OTLP_ENDPOINT` at `endpoint` with `OTEL_EXPORTER_OTLP_PROTOCOL=http/json`. */
export function startOtlpReceiver() {
  const spans: ReceivedSpan[] = [];
  const logs: ReceivedLog[] = [];
  const metrics: ReceivedMetric[] = [];
  const collect: { [Path in keyof Documents]: (document: Documents[Path]) => void } = {
    "/v1/traces": (d) =>
      spans.push(...d.resourceSpans.flatMap((r) => {
        const service = r.resource && attribute(r.resource, "service.name");
        return r.scopeSpans.flatMap((s) => s.spans.map((span) => ({ ...span, service: service as string })));
      })),
    "/v1/logs": (d) => logs.push(...d.resourceLogs.flatMap((r) => r.scopeLogs.flatMap((s) => s.logRecords))),
    "/v1/metrics": (d) => metrics.push(...d.resourceMetrics.flatMap((r) => r.scopeMetrics.flatMap((s) => s.metrics))),
  };
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (request) => {
    const path = new URL(request.url).pathname;
    if (request.method !== "POST" || !(path in collect)) return new Response(null, { status: 404 });
    collect[path as keyof Documents](await decode(request) as never);
    return Response.json({});
  });
  return {
    endpoint: `http://127.0.0.1:${server.addr.port}`,
    spans,
    logs,
    metrics,
    /** Polls until `find` returns something, or throws after `timeoutMs`. */
    async waitFor<T>(what: string, find: () => T | undefined, timeoutMs = 10_000): Promise<T> {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        const found = find();
        if (found !== undefined) return found;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      throw new Error(`no ${what} arrived within ${timeoutMs} ms`);
    },
    close: () => server.shutdown(),
  };
}
