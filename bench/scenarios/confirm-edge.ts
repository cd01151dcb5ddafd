import postgres from "postgres";
import { freshDatabase } from "../../harness/servers.ts";
import { startEdge } from "../../harness/round-trip-budget.ts";
import { assertOutcomes, drive, round } from "../driver.ts";
import { naiveConfirm, naiveDatabase } from "./confirm.ts";
import type { Scenario } from "./types.ts";

const delayMs = 10;

/**
 * The confirmation where round trips cost what they cost at the edge: the service over HTTP (four sequential round
 * trips) against the naive six-round-trip transaction on postgres.js (on the schema it was written for), both with
 * PostgreSQL 20 ms away through the same delay proxy, one confirmation at a time. On loopback (the `confirm`
 * scenario) a round trip is nearly free and the comparison measures CPU instead.
 */
export const confirmEdge: Scenario = {
  name: "confirm-edge",
  async run(options) {
    const requests = options.quick ? 20 : 60;
    const databaseUrl = await freshDatabase();
    const edge = await startEdge(databaseUrl, { delayMs, pool: options.pool });
    const naiveSchema = await naiveDatabase(1);
    // The proxy forwards to the server: through it, the naive transaction reaches a database of its own.
    const viaProxy = Object.assign(new URL(edge.proxy.url), { pathname: new URL(naiveSchema.url).pathname });
    const throughProxy = postgres(viaProxy.href, { max: 1, onnotice: () => {} });
    try {
      const confirm = edge.endpoints.find((endpoint) => endpoint.name === "confirm")!;
      const probe = await edge.ready(confirm, requests);
      const service = await drive({ concurrency: 1, total: requests, operation: probe.send });
      assertOutcomes("confirm over HTTP", service, ["200"]);

      // Windows of their own, a day apart, so every confirmation fits; one more warms the reference's statements.
      const ids = (await naiveSchema.sql<{ id: number }[]>`
        INSERT INTO reservations (user_id, start_at, end_at, headcount, created_at, updated_at)
        SELECT ${naiveSchema.customerId}, t, t + interval '2 hours', 10, now(), now()
        FROM generate_series(timestamptz '2031-01-01 10:00Z', timestamptz '2031-01-01 10:00Z'
          + make_interval(days => ${requests}), interval '1 day') t
        ORDER BY t
        RETURNING id`).map((row) => row.id);
      edge.proxy.delayMs = 0;
      await naiveConfirm(throughProxy, ids[requests]);
      edge.proxy.delayMs = delayMs;
      const naive = await drive({
        concurrency: 1,
        total: requests,
        operation: (i) => naiveConfirm(throughProxy, ids[i]),
      });
      assertOutcomes("naive confirm", naive, ["200"]);
      return {
        name: "confirm-edge",
        samples: {
          [`POST /reservations/{id}/confirm/, RTT ${edge.rttMs} ms`]: service,
          [`naive confirm transaction on postgres.js, RTT ${edge.rttMs} ms`]: naive,
        },
        ratio: {
          name: "confirm at the edge: naive p50 / service p50",
          value: round(naive.p50 / service.p50, 3),
          target: { atLeast: 1 },
        },
        notes: { delayMs, requests },
      };
    } finally {
      await throughProxy.end();
      await naiveSchema.close();
      await edge.stop();
    }
  },
};
