import { SpanKind, SpanStatusCode } from "@opentelemetry/api";
import type { Deps } from "../deps.ts";
import type { Sql } from "../platform/db.ts";
import { systemResolver } from "../platform/dns.ts";
import { meter, tracer } from "../platform/telemetry.ts";
import { type Answer, postJson } from "./post.ts";
import { signature } from "./signature.ts";
import { checkedAddresses } from "./targets.ts";
import { type EventType, typeOf } from "./webhooks.schemas.ts";

export type DeliveryDeps = Pick<Deps, "sql" | "config" | "clock" | "logger" | "resolveHost"> & {
  /** Extra trusted TLS roots (PEM), for tests. */
  ca?: string[];
};

/** A delivery taken for one attempt, with what the attempt sends; its lease runs until its `next_attempt_at`. */
export type Claimed = {
  webhook_id: number;
  event_id: number;
  attempt: number;
  started_at: Date;
  url: string;
  secret: string;
  action: string;
  at: Date;
  reservation: unknown;
  changes: unknown;
  actor_id: number | null;
};

type State = "pending" | "delivered" | "failed";

// After the first failed attempt 5 s, then 30 s, 2 min, 10 min, 1 h, then every 2 h; none past 24 h after queueing.
const firstDelaysMs = [5_000, 30_000, 120_000, 600_000, 3_600_000];
const laterDelayMs = 7_200_000;
const retryWindowMs = 24 * 3_600_000;

/** The wait before the next attempt once `attempts` have failed, scaled by WEBHOOK_RETRY_SCALE. */
export const retryDelayMs = (attempts: number, scale: number) => (firstDelaysMs[attempts - 1] ?? laterDelayMs) * scale;

/**
 * How long an attempt holds its delivery: the attempt ends by its timeout, so the margin only matters for an instance
 * that died (or stalled) mid-attempt; then another instance takes the delivery once the lease has passed.
 */
export const leaseMs = (timeoutMs: number) => timeoutMs + 5_000;

/**
 * Takes up to `limit` due deliveries for attempts, in one statement: rows another instance is taking are skipped, and
 * a delivery whose reservation has an earlier event still owed to the same endpoint waits for it, so each endpoint
 * gets each reservation's events in order. Taking one counts the attempt and leases it (its `next_attempt_at` moves
 * to the lease's end), so no other instance tries it meanwhile. Times are the database's, one clock for all instances.
 * Whether any endpoint exists at all comes with the answer, so a process with none to serve stays idle between polls.
 */
export async function claimDue(sql: Sql, limit: number, lease: number) {
  const rows = await sql<(Claimed & { endpoints: boolean })[]>`
    WITH due AS (
      SELECT d.webhook_id, d.event_id, w.id IS NULL AS orphaned
      FROM webhook_deliveries d LEFT JOIN webhooks w ON w.id = d.webhook_id
      WHERE d.next_attempt_at <= now()
        AND NOT EXISTS (
          SELECT 1 FROM webhook_deliveries earlier
          WHERE earlier.webhook_id = d.webhook_id AND earlier.reservation_id = d.reservation_id
            AND earlier.event_id < d.event_id
        )
      ORDER BY d.next_attempt_at, d.event_id
      LIMIT ${limit}
      FOR UPDATE OF d SKIP LOCKED
    ), dropped AS (
      DELETE FROM webhook_deliveries d
      USING due WHERE due.orphaned AND d.webhook_id = due.webhook_id AND d.event_id = due.event_id
    ), claimed AS (
      UPDATE webhook_deliveries d
      SET attempts = d.attempts + 1, next_attempt_at = now() + ${lease}::float8 * interval '1 millisecond'
      FROM due, webhooks w, reservation_events e
      WHERE d.webhook_id = due.webhook_id AND d.event_id = due.event_id AND w.id = d.webhook_id AND e.id = d.event_id
      RETURNING d.webhook_id, d.event_id::int, d.attempts AS attempt, now() AS started_at, w.url, w.secret, e.action,
        e.at, e.reservation, e.changes, e.actor_id
    )
    SELECT claimed.*, EXISTS (SELECT 1 FROM webhooks) AS endpoints FROM (SELECT) one LEFT JOIN claimed ON true`;
  const claimed = rows.filter((row) => row.webhook_id !== null).map(({ endpoints: _, ...row }) => row);
  return { claimed, endpoints: rows[0].endpoints };
}

/**
 * Records an attempt and judges the delivery, in one statement: delivered on a 2xx, failed when the next attempt
 * would fall past the retry window, else pending until then. A finished delivery's row goes (its attempts stay);
 * only the newest WEBHOOK_ATTEMPTS_KEPT attempts of the endpoint are kept. Nothing is recorded if the lease passed
 * and another attempt took the delivery over (its `attempts` moved on).
 */
async function recordAttempt(deps: DeliveryDeps, claimed: Claimed, answer: Answer): Promise<State | undefined> {
  const { sql, config } = deps;
  const delivered = answer.status !== null && answer.status >= 200 && answer.status < 300;
  const delay = retryDelayMs(claimed.attempt, config.WEBHOOK_RETRY_SCALE);
  const window = retryWindowMs * config.WEBHOOK_RETRY_SCALE;
  // The endpoint's row is locked (shared) before its delivery: a deletion of the endpoint takes them in that order too.
  const [row] = await sql<{ state: State }[]>`
    WITH endpoint AS MATERIALIZED (
      SELECT id FROM webhooks WHERE id = ${claimed.webhook_id} FOR KEY SHARE
    ), judged AS (
      SELECT d.webhook_id, d.event_id,
        CASE
          WHEN ${delivered} THEN 'delivered'
          WHEN now() + ${delay}::float8 * interval '1 millisecond'
            > d.queued_at + ${window}::float8 * interval '1 millisecond' THEN 'failed'
          ELSE 'pending'
        END AS state,
        now() + ${delay}::float8 * interval '1 millisecond' AS retry_at
      FROM endpoint JOIN webhook_deliveries d ON d.webhook_id = endpoint.id
      WHERE d.event_id = ${claimed.event_id} AND d.attempts = ${claimed.attempt}
    ), rescheduled AS (
      UPDATE webhook_deliveries d SET next_attempt_at = j.retry_at
      FROM judged j WHERE j.state = 'pending' AND d.webhook_id = j.webhook_id AND d.event_id = j.event_id
    ), finished AS (
      DELETE FROM webhook_deliveries d
      USING judged j WHERE j.state <> 'pending' AND d.webhook_id = j.webhook_id AND d.event_id = j.event_id
    ), attempt AS (
      INSERT INTO webhook_attempts (webhook_id, event_id, attempt, at, status_code, error, next_attempt_at, state)
      SELECT webhook_id, event_id, ${claimed.attempt}, ${claimed.started_at}, ${answer.status}, ${answer.error},
        CASE WHEN state = 'pending' THEN retry_at END, state
      FROM judged
    ), pruned AS (
      DELETE FROM webhook_attempts
      WHERE webhook_id = ${claimed.webhook_id} AND id <= (
        SELECT id FROM webhook_attempts WHERE webhook_id = ${claimed.webhook_id}
        ORDER BY id DESC OFFSET ${config.WEBHOOK_ATTEMPTS_KEPT - 1} LIMIT 1
      )
    )
    SELECT state FROM judged`;
  return row?.state;
}

const attemptCounter = meter.createCounter("webhooks.delivery.attempts", {
  description: "Webhook delivery attempts, by the state each left its delivery in (webhook.state)",
});

/** The body every attempt of an event sends: only `webhook-timestamp` and the signature change between attempts. */
export function payloadOf(claimed: Claimed) {
  return JSON.stringify({
    type: typeOf(claimed.action),
    timestamp: claimed.at.toISOString(),
    data: { reservation: claimed.reservation, changes: claimed.changes, actor_id: claimed.actor_id },
  });
}

/** One attempt of a claimed delivery: signed, POSTed to the checked addresses, recorded; a span and a count. */
export function attemptDelivery(deps: DeliveryDeps, claimed: Claimed): Promise<void> {
  const { config, clock, logger } = deps;
  const type: EventType = typeOf(claimed.action);
  const attributes = {
    "webhook.id": claimed.webhook_id,
    "webhook.event_id": claimed.event_id,
    "webhook.event_type": type,
    "webhook.attempt": claimed.attempt,
  };
  return tracer.startActiveSpan("webhook delivery", { kind: SpanKind.CLIENT, attributes }, async (span) => {
    try {
      const id = String(claimed.event_id);
      const timestamp = Math.floor(clock().getTime() / 1000);
      const body = payloadOf(claimed);
      const headers = {
        "content-type": "application/json",
        "user-agent": "exam-slots-webhooks/1",
        "webhook-id": id,
        "webhook-timestamp": String(timestamp),
        "webhook-signature": await signature(claimed.secret, id, timestamp, body),
      };
      const resolve = deps.resolveHost ?? systemResolver;
      const answer = await postJson(new URL(claimed.url), headers, body, {
        timeoutMs: config.WEBHOOK_TIMEOUT_MS,
        addressesOf: (host) => checkedAddresses(host, resolve, config.WEBHOOK_ALLOW_PRIVATE),
        ca: deps.ca,
      });
      if (answer.status !== null) span.setAttribute("http.response.status_code", answer.status);
      const state = await recordAttempt(deps, claimed, answer);
      if (state) {
        span.setAttribute("webhook.state", state);
        attemptCounter.add(1, { "webhook.state": state });
      } else {
        logger.error({ message: "webhook attempt outlived its lease: not recorded", ...attributes });
      }
      if (state !== "delivered") {
        span.setStatus({ code: SpanStatusCode.ERROR });
        span.setAttribute("error.type", answer.status === null ? "no_answer" : String(answer.status));
      }
    } catch (error) {
      // The database gone: the lease runs out and the delivery is taken again.
      span.setStatus({ code: SpanStatusCode.ERROR });
      span.setAttribute("error.type", (error as { code?: string }).code ?? (error as Error).name);
      logger.error({ message: "webhook attempt not recorded", error: (error as Error).name, ...attributes });
    } finally {
      span.end();
    }
  });
}
