import type { Sample } from "../driver.ts";
import type { Options } from "../options.ts";
import type { BudgetRow } from "../../harness/round-trip-budget.ts";

/** A headline figure: the service over its reference, measured in the same run. */
export type Ratio = {
  name: string;
  value: number;
  target: { atLeast: number } | { atMost: number } | null;
};

export type ScenarioResult = {
  name: string;
  /** What each sample measured, by label. */
  samples: Record<string, Sample>;
  ratio: Ratio;
  /** Checks that must hold for the bench to exit 0. */
  checks?: Record<string, { ok: boolean; detail: unknown }>;
  /** Sequential database round trips per endpoint, against their budget, at a round-trip time of `rttMs`. */
  budget?: { rttMs: number; rows: BudgetRow[] };
  notes?: Record<string, unknown>;
};

export type Scenario = { name: string; run(options: Options): Promise<ScenarioResult> };
