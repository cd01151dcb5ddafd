import { metrics, ProxyTracerProvider, trace } from "@opentelemetry/api";

/**
 * Deno registers its own tracer provider with `@opentelemetry/api` before any user code runs when OpenTelemetry
 * is on (`OTEL_DENO=true`, or Deno Deploy); otherwise the API answers with its no-op proxy. Everything that costs
 * something per request or per query is only installed when this is true.
 */
export const telemetryEnabled = !(trace.getTracerProvider() instanceof ProxyTracerProvider);

const scope = "exam-slots";
export const tracer = trace.getTracer(scope);
export const meter = metrics.getMeter(scope);

/** A gauge read at every metric export (the pool in use, the password-hashing queue). */
export function observeGauge(name: string, description: string, read: () => number) {
  meter.createObservableGauge(name, { description }).addCallback((result) => result.observe(read()));
}
