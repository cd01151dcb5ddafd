/** Latency and throughput of one measured run. Latencies in milliseconds. */
export type Sample = {
  operations: number;
  seconds: number;
  perSecond: number;
  p50: number;
  p95: number;
  p99: number;
  /** How many operations ended with each outcome (an HTTP status, "ok", or "error: …"). */
  outcomes: Record<string, number>;
  /** Share of the machine's CPU time (all cores) that was busy during the run: near 1, the run was CPU-bound. */
  machineBusy: number;
};

export type Load = {
  concurrency: number;
  /** One operation; resolves to its outcome. `i` counts from 0 across all workers. */
  operation: (i: number) => Promise<string>;
  /** Seconds of the same load run first and thrown away, so the JIT and the pools are warm. */
  warmup?: number;
  /** Milliseconds each client waits after an operation before its next one (a probe, not a load); not timed. */
  pauseMs?: number;
} & ({ total: number } | { seconds: number });

/** The raw record of one run, before it is summarized; runs of the same load can be pooled into one sample. */
export type Run = {
  latencies: number[];
  outcomes: Record<string, number>;
  seconds: number;
  idle: number;
  total: number;
};

/** Runs `operation` from `concurrency` workers in closed loop, until `total` operations or `seconds` have passed. */
export async function run(load: Load): Promise<Run> {
  const { concurrency, operation, pauseMs } = load;
  if (load.warmup) await run({ concurrency, operation, pauseMs, seconds: load.warmup });
  const latencies: number[] = [];
  const outcomes: Record<string, number> = {};
  const cpuBefore = machineCpu();
  const started = performance.now();
  const deadline = "seconds" in load ? started + load.seconds * 1000 : Infinity;
  const total = "total" in load ? load.total : Infinity;
  let next = 0;

  async function worker() {
    while (next < total && performance.now() < deadline) {
      const i = next++;
      const begun = performance.now();
      let outcome: string;
      try {
        outcome = await load.operation(i);
      } catch (error) {
        outcome = `error: ${(error as Error).message}`;
      }
      latencies.push(performance.now() - begun);
      outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
      if (load.pauseMs) await new Promise((resolve) => setTimeout(resolve, load.pauseMs));
    }
  }

  await Promise.all(Array.from({ length: load.concurrency }, worker));
  const seconds = (performance.now() - started) / 1000;
  const cpuAfter = machineCpu();
  return {
    latencies,
    outcomes,
    seconds,
    idle: cpuAfter.idle - cpuBefore.idle,
    total: cpuAfter.total - cpuBefore.total,
  };
}

/** One sample from one or more runs: throughput over their summed time, percentiles over all their latencies. */
export function summarize(...runs: Run[]): Sample {
  const latencies = runs.flatMap((r) => r.latencies).sort((a, b) => a - b);
  const seconds = runs.reduce((sum, r) => sum + r.seconds, 0);
  const outcomes: Record<string, number> = {};
  for (const [outcome, count] of runs.flatMap((r) => Object.entries(r.outcomes))) {
    outcomes[outcome] = (outcomes[outcome] ?? 0) + count;
  }
  const idle = runs.reduce((sum, r) => sum + r.idle, 0);
  const total = runs.reduce((sum, r) => sum + r.total, 0);
  return {
    operations: latencies.length,
    seconds: round(seconds, 2),
    perSecond: round(latencies.length / seconds, 1),
    p50: round(percentile(latencies, 50), 2),
    p95: round(percentile(latencies, 95), 2),
    p99: round(percentile(latencies, 99), 2),
    outcomes,
    machineBusy: round(1 - idle / total, 2),
  };
}

export const drive = async (load: Load): Promise<Sample> => summarize(await run(load));

/** Jiffies since boot over all cores, from the first line of /proc/stat. */
function machineCpu(): { idle: number; total: number } {
  const fields = Deno.readTextFileSync("/proc/stat").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
  return { idle: fields[3] + fields[4], total: fields.reduce((a, b) => a + b, 0) };
}

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)];
}

export const round = (value: number, digits: number) => Math.round(value * 10 ** digits) / 10 ** digits;

/** Throws unless every operation ended with one of `expected`: a run full of errors measures nothing. */
export function assertOutcomes(label: string, sample: Sample, expected: string[]) {
  const unexpected = Object.entries(sample.outcomes).filter(([outcome]) => !expected.includes(outcome));
  if (unexpected.length > 0) {
    throw new Error(`${label}: unexpected outcomes ${JSON.stringify(Object.fromEntries(unexpected))}`);
  }
}
