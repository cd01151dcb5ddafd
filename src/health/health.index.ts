import { createRoute, z } from "@hono/zod-openapi";
import { createRouter } from "../http/router.ts";
import { jsonResponse } from "../http/openapi.ts";
import type { Deps } from "../deps.ts";

const Status = z.enum(["ok", "down"]);
const HealthSchema = z.object({ status: Status, db: Status, cache: Status }).openapi("Health");

const health = createRoute({
  method: "get",
  path: "/healthz",
  operationId: "getHealth",
  tags: ["service"],
  summary: "Liveness of the service and its dependencies",
  responses: {
    200: jsonResponse(HealthSchema, "Everything answers"),
    503: jsonResponse(HealthSchema, "A dependency is down"),
  },
});

const probeTimeoutMs = 2000;

async function probe(check: () => Promise<unknown>): Promise<"ok" | "down"> {
  try {
    await Promise.race([
      check(),
      new Promise((_, reject) => setTimeout(reject, probeTimeoutMs).unref?.()),
    ]);
    return "ok";
  } catch {
    return "down";
  }
}

async function checkHealth({ sql, cache }: Pick<Deps, "sql" | "cache">) {
  const [db, cacheStatus] = await Promise.all([probe(() => sql`SELECT 1`), probe(() => cache.ping())]);
  const ok = db === "ok" && cacheStatus === "ok";
  return { ok, body: { status: ok ? "ok" as const : "down" as const, db, cache: cacheStatus } };
}

// A flood of health checks must not become database and cache load: within this window every check, concurrent
// ones included, shares one probe. Measured on the monotonic clock: it is about load, not the domain's "now".
const probeReuseMs = 1000;
const recentProbes = new WeakMap<Pick<Deps, "sql" | "cache">, { at: number; result: ReturnType<typeof checkHealth> }>();

/** The health of these dependencies as probed at most `probeReuseMs` ago. */
function recentHealth(deps: Pick<Deps, "sql" | "cache">): ReturnType<typeof checkHealth> {
  const recent = recentProbes.get(deps);
  if (recent && performance.now() - recent.at < probeReuseMs) return recent.result;
  const result = checkHealth(deps);
  recentProbes.set(deps, { at: performance.now(), result });
  return result;
}

export const healthRouter = createRouter().openapi(health, async (c) => {
  const { ok, body } = await recentHealth(c.var.deps);
  return ok ? c.json(body, 200) : c.json(body, 503);
});
