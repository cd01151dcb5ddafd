import { freshDatabase, freshPooledDatabase } from "../../harness/servers.ts";
import { budgetRow, startEdge, withinBudget } from "../../harness/round-trip-budget.ts";
import { assertOutcomes, drive, round, type Sample } from "../driver.ts";
import type { Scenario } from "./types.ts";

const delayMs = 10;

/**
 * The server with its database 20 ms away (a delay proxy adding 10 ms each way), one request at a time: per
 * endpoint the p50 and the sequential database round trips a request waits for, against the budget of issue 10.
 * `database` gives the URL the proxy fronts; `env` what the server needs with it.
 */
function edgeScenario(
  { name, database, ratio, env = {} }: {
    name: string;
    database: () => Promise<string>;
    ratio: string;
    env?: Record<string, string>;
  },
): Scenario {
  return {
    name,
    async run(options) {
      const requests = options.quick ? 20 : 60;
      const edge = await startEdge(await database(), { delayMs, pool: options.pool, env });
      try {
        const samples: Record<string, Sample> = {};
        const budget = [];
        for (const endpoint of edge.endpoints) {
          const probe = await edge.ready(endpoint, requests);
          const sample = await drive({ concurrency: 1, total: requests, operation: probe.send });
          assertOutcomes(endpoint.name, sample, [String(endpoint.status)]);
          samples[`${endpoint.request}, RTT ${edge.rttMs} ms`] = sample;
          budget.push(budgetRow(endpoint, probe.roundTrips, sample.p50, edge.rttMs));
        }
        return {
          name,
          samples,
          ratio: {
            name: ratio,
            value: round(budget.filter(withinBudget).length / budget.length, 3),
            target: { atLeast: 1 },
          },
          budget: { rttMs: edge.rttMs, rows: budget },
          notes: { delayMs, requestsPerEndpoint: requests, pool: options.pool, ...env },
        };
      } finally {
        await edge.stop();
      }
    },
  };
}

/** PostgreSQL itself 20 ms away. */
export const edge = edgeScenario({
  name: "edge",
  database: freshDatabase,
  ratio: "endpoints within the round-trip budget",
});

/** PgBouncer in transaction mode 20 ms away, PostgreSQL beside it: how Neon, Supabase and most edge platforms run. */
export const edgePooled = edgeScenario({
  name: "edge-pooled",
  database: freshPooledDatabase,
  ratio: "endpoints within the round-trip budget, through PgBouncer",
  env: { DB_POOLER: "transaction" },
});
