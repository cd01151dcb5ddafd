import bcrypt from "bcryptjs";
import { assertOutcomes, drive, round } from "../driver.ts";
import { defaults, startService } from "../service.ts";
import type { Scenario } from "./types.ts";
import { api } from "../../harness/paths.ts";

/** Login throughput against bare bcryptjs.compare at the same cost, both in one process. */
export const login: Scenario = {
  name: "login",
  async run(options) {
    const service = await startService(options);
    try {
      const customer = await service.user("login-customer");
      const body = { email: customer.email, password: customer.password };
      const http = await drive({
        concurrency: options.concurrency,
        seconds: options.seconds,
        warmup: 1,
        operation: async () => String((await service.call("POST", api("/users/login/"), { body })).status),
      });
      assertOutcomes("login over HTTP", http, ["200"]);

      const hash = await bcrypt.hash(customer.password, defaults.BCRYPT_COST);
      const bare = await drive({
        concurrency: options.concurrency,
        seconds: options.seconds,
        operation: async () => (await bcrypt.compare(customer.password, hash)) ? "ok" : "mismatch",
      });
      assertOutcomes("bare bcrypt.compare", bare, ["ok"]);

      return {
        name: "login",
        samples: { "POST /users/login/": http, [`bcrypt.compare cost ${defaults.BCRYPT_COST}`]: bare },
        ratio: { name: "login / bcrypt", value: round(http.perSecond / bare.perSecond, 3), target: { atLeast: 0.8 } },
      };
    } finally {
      await service.stop();
    }
  },
};
