import { assertOutcomes, drive, round } from "../driver.ts";
import { startService } from "../service.ts";
import { constantPath } from "../server.ts";
import { futureDay, hours } from "./dates.ts";
import type { Scenario } from "./types.ts";
import { api } from "../../harness/paths.ts";

const customers = 4;

/** Creating a reservation (validation, capacity check, insert) against constant JSON behind the same middleware. */
export const create: Scenario = {
  name: "create",
  async run(options) {
    const service = await startService(options);
    try {
      const tokens = await Promise.all(
        Array.from({ length: customers }, async (_, i) => (await service.user(`create-customer-${i}`)).access),
      );
      // Spread over 200 days and every hour, so no slot is hot and every request takes the full path.
      const request = (i: number) => {
        const start = hours(futureDay(i % 200), i % 23);
        return {
          token: tokens[i % customers],
          body: { start_at: start.toISOString(), end_at: hours(start, 1).toISOString(), headcount: 1 + (i % 50) },
        };
      };
      const load = { concurrency: options.concurrency, seconds: options.seconds, warmup: 1 };
      const constant = await drive({
        ...load,
        operation: async (i) => String((await service.call("POST", constantPath, request(i))).status),
      });
      assertOutcomes("constant route", constant, ["200"]);
      const created = await drive({
        ...load,
        operation: async (i) => String((await service.call("POST", api("/reservations/"), request(i))).status),
      });
      assertOutcomes("create reservation", created, ["201"]);
      return {
        name: "create",
        samples: { "POST /reservations/": created, "POST constant JSON (same middleware)": constant },
        ratio: { name: "create / constant", value: round(created.perSecond / constant.perSecond, 3), target: null },
      };
    } finally {
      await service.stop();
    }
  },
};
