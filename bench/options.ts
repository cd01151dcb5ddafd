import { parseArgs } from "node:util";

export type Options = {
  quick: boolean;
  /** The full preset, every scenario, nothing overridden: the run the README's figures come from. */
  recorded: boolean;
  /** Length of each timed measurement. */
  seconds: number;
  /** Concurrent clients, and concurrent transactions for the raw-SQL reference. */
  concurrency: number;
  /** Database pool of the server process, and of the raw-SQL reference. */
  pool: number;
  /** Pending reservations confirmed on the hot slot, per side. */
  confirms: number;
  /** Reservations in the big data set of the availability scenario. */
  bigSet: number;
  /** Scenario names to run; all when empty. */
  only: string[];
};

const presets = {
  full: { seconds: 10, concurrency: 8, pool: 10, confirms: 10_000, bigSet: 1_000_000 },
  quick: { seconds: 3, concurrency: 8, pool: 10, confirms: 3000, bigSet: 1_000_000 },
};

const usage = `deno task bench [--quick] [--seconds N] [--concurrency N] [--pool N] [--confirms N] [--big-set N]
                [--only confirm,availability,create,login,login-storm,edge,edge-pooled,confirm-edge]`;

/** Flags over a preset: `--quick` picks the small one, any other flag overrides a value of it. */
export function parseOptions(args: string[]): Options {
  const { values } = parseArgs({
    args,
    options: {
      quick: { type: "boolean", default: false },
      seconds: { type: "string" },
      concurrency: { type: "string" },
      pool: { type: "string" },
      confirms: { type: "string" },
      "big-set": { type: "string" },
      only: { type: "string", default: "" },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) {
    console.log(usage);
    Deno.exit(0);
  }
  const preset = values.quick ? presets.quick : presets.full;
  const number = (flag: string, raw: string | undefined, fallback: number) => {
    if (raw === undefined) return fallback;
    const value = Number(raw);
    if (!(value > 0)) throw new Error(`--${flag} must be a positive number\n${usage}`);
    return value;
  };
  const overridden = ["seconds", "concurrency", "pool", "confirms", "big-set"] as const;
  return {
    quick: values.quick,
    recorded: !values.quick && values.only === "" && overridden.every((flag) => values[flag] === undefined),
    seconds: number("seconds", values.seconds, preset.seconds),
    concurrency: number("concurrency", values.concurrency, preset.concurrency),
    pool: number("pool", values.pool, preset.pool),
    confirms: number("confirms", values.confirms, preset.confirms),
    bigSet: number("big-set", values["big-set"], preset.bigSet),
    only: values.only.split(",").map((s) => s.trim()).filter(Boolean),
  };
}

/**
 * Where a run's results go: a recorded run to bench/results/latest.json (committed), any other (`--quick`, `--only`,
 * an override) to bench/results/scratch.json (ignored by git), so a try-out never replaces the record.
 */
export function resultsPath(options: Pick<Options, "recorded">): URL {
  return new URL(`./results/${options.recorded ? "latest" : "scratch"}.json`, import.meta.url);
}
