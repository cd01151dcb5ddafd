import bcrypt from "bcryptjs";
import { assertOutcomes, drive, round } from "../driver.ts";
import { defaults, startService } from "../service.ts";
import type { Scenario } from "./types.ts";
import type { PasswordJob, PasswordReply } from "../../src/auth/password-worker.ts";
import { api } from "../../harness/paths.ts";

const clients = 16;
const meTargetMs = 25;
// The server's own worker module: bcryptjs and nothing else, so the reference is bcrypt alone on every core.
const bcryptWorker = new URL("../../src/auth/password-worker.ts", import.meta.url);

/** bcryptjs.compare on one Web Worker per core, without HTTP, database or queue: the logins/s ceiling. */
async function bareCompare(job: PasswordJob, seconds: number) {
  const workers = Array.from(
    { length: navigator.hardwareConcurrency },
    () => new Worker(bcryptWorker, { type: "module" }),
  );
  const idle = [...workers];
  const compareOnIdleWorker = async () => {
    const worker = idle.pop()!;
    try {
      const reply = await new Promise<PasswordReply>((resolve) => {
        worker.onmessage = (event) => resolve(event.data);
        worker.postMessage(job);
      });
      return reply.ok && reply.value === true ? "ok" : "mismatch";
    } finally {
      idle.push(worker);
    }
  };
  try {
    return await drive({ concurrency: workers.length, seconds, warmup: 1, operation: compareOnIdleWorker });
  } finally {
    for (const worker of workers) worker.terminate();
  }
}

/**
 * 16 clients log in to 16 accounts in a loop at the default bcrypt cost while one client reads `GET /users/me`: the
 * storm should cost the storm, not every other request. Logins/s against bare bcryptjs on all cores, same run.
 */
export const loginStorm: Scenario = {
  name: "login-storm",
  async run(options) {
    const service = await startService(options);
    try {
      const accounts = await Promise.all(Array.from({ length: clients }, (_, i) => service.user(`storm-${i}`)));
      const reader = accounts[0].access;
      const me = async () => String((await service.call("GET", api("/users/me/"), { token: reader })).status);
      const login = async (i: number) => {
        const { email, password } = accounts[i % clients];
        return String((await service.call("POST", api("/users/login/"), { body: { email, password } })).status);
      };

      // `me` is a probe, one read every few milliseconds, not a second load competing with the storm for the CPU.
      const probe = { concurrency: 1, pauseMs: 10, warmup: 1, operation: me };
      const idle = await drive({ ...probe, seconds: Math.min(options.seconds, 3) });
      // Both loads warm up together for a second, then are measured over the same seconds.
      const [storm, meInStorm] = await Promise.all([
        drive({ concurrency: clients, seconds: options.seconds, warmup: 1, operation: login }),
        drive({ ...probe, seconds: options.seconds }),
      ]);
      assertOutcomes("GET /users/me/ idle", idle, ["200"]);
      assertOutcomes("login storm", storm, ["200"]);
      assertOutcomes("GET /users/me/ during the storm", meInStorm, ["200"]);

      const hash = await bcrypt.hash(accounts[0].password, defaults.BCRYPT_COST);
      const bare = await bareCompare({ op: "compare", password: accounts[0].password, hash }, options.seconds);
      assertOutcomes("bare bcrypt.compare", bare, ["ok"]);

      const cores = navigator.hardwareConcurrency;
      return {
        name: "login-storm",
        samples: {
          "GET /users/me/ (idle)": idle,
          "GET /users/me/ (during the storm)": meInStorm,
          [`POST /users/login/ (${clients} clients, cost ${defaults.BCRYPT_COST})`]: storm,
          [`bcrypt.compare cost ${defaults.BCRYPT_COST} on ${cores} workers`]: bare,
        },
        ratio: {
          name: "storm logins / bare bcrypt",
          value: round(storm.perSecond / bare.perSecond, 3),
          target: { atLeast: 0.8 },
        },
        notes: {
          [`me p50 during the storm (target ≤ ${meTargetMs} ms)`]: meInStorm.p50,
          meTargetMet: meInStorm.p50 <= meTargetMs,
          passwordWorkers: cores,
        },
      };
    } finally {
      await service.stop();
    }
  },
};
