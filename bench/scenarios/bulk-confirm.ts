import { capacityDrift } from "../../src/reservations/capacity.ts";
import { maxBulkConfirm } from "../../src/reservations/reservations.schemas.ts";
import { assertOutcomes, round, run, summarize as summary } from "../driver.ts";
import { defaults, startService } from "../service.ts";
import { futureDay } from "./dates.ts";
import { pending } from "./confirm.ts";
import type { Scenario } from "./types.ts";
import { api } from "../../harness/paths.ts";

const capacity = defaults.MAX_CONCURRENT_EXAMINEES;

/**
 * Confirmations per second on one hot window: N pending reservations confirmed one request each by C parallel admin
 * clients, against the same N confirmed 100 ids per request (`POST /reservations/confirm/`) by C clients, on the same
 * server. More is requested than fits, so each side ends with the window exactly full. Its round trips, with the
 * database 20 ms away, are in the `edge` scenario's budget (`bulk confirm ×1`, `×100`).
 */
export const bulkConfirm: Scenario = {
  name: "bulk-confirm",
  async run(options) {
    const service = await startService(options);
    try {
      const admin = await service.user("bulk-admin", true);
      const customer = await service.user("bulk-customer");
      const headcount = Math.ceil((capacity * 1.25) / options.confirms);
      const [singleDay, bulkDay] = [4, 5].map(futureDay);
      const singleIds = await pending(service.sql, customer.id, singleDay, options.confirms, headcount);
      const bulkIds = await pending(service.sql, customer.id, bulkDay, options.confirms, headcount);
      await service.sql`ANALYZE`;

      const confirmOne = async (i: number) =>
        String(
          (await service.call("POST", api(`/reservations/${singleIds[i]}/confirm/`), { token: admin.access })).status,
        );
      const chunks = Array.from(
        { length: Math.ceil(bulkIds.length / maxBulkConfirm) },
        (_, i) => bulkIds.slice(i * maxBulkConfirm, (i + 1) * maxBulkConfirm),
      );
      let bulkConfirmed = 0;
      const confirmChunk = async (i: number) => {
        const reply = await service.call("POST", api("/reservations/confirm/"), {
          token: admin.access,
          body: { ids: chunks[i] },
        });
        if (reply.status === 200) {
          bulkConfirmed += (JSON.parse(reply.text).results as { status: number }[]).filter((r) => r.status === 200)
            .length;
        }
        return String(reply.status);
      };
      const single = await run({ concurrency: options.concurrency, total: singleIds.length, operation: confirmOne });
      const bulk = await run({ concurrency: options.concurrency, total: chunks.length, operation: confirmChunk });
      const singleSample = { ...summary(single), confirmationsPerSecond: round(singleIds.length / single.seconds, 1) };
      const bulkSample = { ...summary(bulk), confirmationsPerSecond: round(bulkIds.length / bulk.seconds, 1) };
      assertOutcomes("single confirmations", singleSample, ["200", "409"]);
      assertOutcomes("bulk confirmations", bulkSample, ["200"]);

      const fits = Math.floor(capacity / headcount);
      const confirmedOn = async (ids: number[]) =>
        (await service.sql<{ n: number }[]>`
          SELECT count(*)::int AS n FROM reservations WHERE id = ANY (${ids}::int[]) AND status = 'confirmed'`)[0].n;
      const [singleFilled, bulkFilled] = [await confirmedOn(singleIds), await confirmedOn(bulkIds)];
      const drift = await capacityDrift(service.sql, defaults);
      return {
        name: "bulk-confirm",
        samples: {
          [`POST /reservations/{id}/confirm/ (${singleIds.length}, C=${options.concurrency})`]: singleSample,
          [`POST /reservations/confirm/ (${chunks.length} × ${maxBulkConfirm} ids, C=${options.concurrency})`]:
            bulkSample,
        },
        ratio: {
          name: "bulk / single confirmations per second",
          value: round(bulkSample.confirmationsPerSecond / singleSample.confirmationsPerSecond, 3),
          target: { atLeast: 1 },
        },
        checks: {
          "capacity drift (capacityDrift)": { ok: drift.length === 0, detail: { driftingSlots: drift.length } },
          "single hot slot filled exactly": { ok: singleFilled === fits, detail: { fits, confirmed: singleFilled } },
          "bulk hot slot filled exactly": {
            ok: bulkFilled === fits && bulkConfirmed === fits,
            detail: { fits, confirmed: bulkFilled, answered200: bulkConfirmed },
          },
        },
        notes: { headcount, capacity },
      };
    } finally {
      await service.stop();
    }
  },
};
