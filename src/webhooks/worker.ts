import { createMiddleware } from "hono/factory";
import { observeGauge } from "../platform/telemetry.ts";
import { attemptDelivery, claimDue, type DeliveryDeps, leaseMs } from "./delivery.ts";

export type DeliveryWorker = {
  /** Look for due deliveries now (after a write of this process, say) rather than at the next poll. */
  wake(): void;
  /** Resolves once nothing is due and nothing is under way, or after `budgetMs`. */
  drained(budgetMs: number): Promise<void>;
  /** Takes no more deliveries and waits for the attempts under way (each ends by its timeout). */
  stop(): Promise<void>;
};

const drainCheckMs = 100;

/**
 * Delivers webhooks from this process: polls PostgreSQL every WEBHOOK_POLL_MS (or when woken) and runs at most
 * WEBHOOK_CONCURRENCY attempts at once, claiming only as many deliveries as it has free places. Everything owed stays
 * in PostgreSQL, so a receiver that is down or slow costs this process at most that many open requests, and any number
 * of processes share the work (claims skip each other's rows). Nothing here runs inside a request.
 */
export function startDeliveryWorker(deps: DeliveryDeps): DeliveryWorker {
  const { sql, config, logger } = deps;
  const places = config.WEBHOOK_CONCURRENCY;
  const lease = leaseMs(config.WEBHOOK_TIMEOUT_MS);
  const running = new Set<Promise<void>>();
  let stopped = false;
  let again = false;
  let idle = false;
  // Until a poll finds an endpoint, a write cannot have queued anything: wakes wait for the next poll.
  let endpoints = false;
  let passing: Promise<void> | undefined;
  let timer: ReturnType<typeof setTimeout> | undefined;

  const schedule = (ms: number) => {
    clearTimeout(timer);
    if (!stopped) timer = setTimeout(() => passing = pass(), ms);
  };
  const passNow = () => {
    if (passing) again = true;
    else schedule(0);
  };
  const wake = () => {
    if (endpoints) passNow();
  };
  const start = (attempt: Promise<void>) => {
    running.add(attempt);
    attempt.finally(() => {
      running.delete(attempt);
      wake(); // a place is free, and the next event of that reservation may be due now
    });
  };

  async function pass() {
    try {
      do {
        again = false;
        while (!stopped && running.size < places) {
          const free = places - running.size;
          const { claimed, endpoints: any } = await claimDue(sql, free, lease);
          endpoints = any;
          for (const delivery of claimed) start(attemptDelivery(deps, delivery));
          idle = claimed.length === 0 && running.size === 0;
          if (claimed.length < free) break;
        }
      } while (again && !stopped);
    } catch (error) {
      logger.error({ message: "webhook deliveries could not be claimed", error: (error as Error).name });
    } finally {
      passing = undefined;
      schedule(config.WEBHOOK_POLL_MS);
    }
  }

  observeGauge("webhooks.delivery.in_flight", "Webhook attempts under way in this process", () => running.size);
  schedule(0);
  return {
    wake,
    async drained(budgetMs) {
      const deadline = Date.now() + budgetMs;
      idle = false;
      passNow();
      while (!(idle && !passing && running.size === 0) && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, drainCheckMs));
      }
    },
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await passing;
      await Promise.allSettled([...running]);
    },
  };
}

// Deno Deploy runs an isolate only while it has work: a cron every minute gives it some, so deliveries due while no
// request comes in (retries, or another isolate's leftovers) go out within a minute.
const deployCronBudgetMs = 50_000;

/**
 * This process's share of webhook delivery: none with WEBHOOK_WORKER=false (a `deno task deliver` worker does it);
 * on Deno Deploy, a `Deno.cron` keeps it going besides.
 */
export function runWebhookDeliveries(deps: DeliveryDeps): DeliveryWorker | undefined {
  if (!deps.config.WEBHOOK_WORKER) return undefined;
  const worker = startDeliveryWorker(deps);
  if (deps.config.DENO_DEPLOYMENT_ID && typeof Deno.cron === "function") {
    Deno.cron("webhook deliveries", "* * * * *", () => worker.drained(deployCronBudgetMs));
  }
  return worker;
}

/** Wakes the worker after every successful write under the API: its events are queued by then (they committed). */
export const wakeAfterWrites = (worker: Pick<DeliveryWorker, "wake">) =>
  createMiddleware(async function wakeDeliveries(c, next) {
    await next();
    if (c.req.method !== "GET" && c.req.method !== "HEAD" && c.res.status < 400) worker.wake();
  });
