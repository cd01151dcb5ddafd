import { freshDatabase } from "../../harness/servers.ts";
import { budgetRow, startEdge, withinBudget } from "../../harness/round-trip-budget.ts";
import { assertOutcomes, drive, round, type Sample } from "../driver.ts";
import type { Scenario } from "./types.ts";

const delayMs = 10;

/**
 * The server with PostgreSQL 20 ms away (a delay proxy adding 10 ms each way), one request at a time: per
 * endpoint the p50 and the sequential database round trips a request waits for, against the budget of issue 10.
 */
export const edge: Scenario = {
  name: "edge",
  async run(options) {
    const requests = options.quick ? 20 : 60;
    const edge = await startEdge(await freshDatabase(), { delayMs, pool: options.pool });
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
        name: "edge",
        samples,
        ratio: {
          name: "endpoints within the round-trip budget",
          value: round(budget.filter(withinBudget).length / budget.length, 3),
          target: { atLeast: 1 },
        },
        budget: { rttMs: edge.rttMs, rows: budget },
        notes: { delayMs, requestsPerEndpoint: requests, pool: options.pool },
      };
    } finally {
      await edge.stop();
    }
  },
};
