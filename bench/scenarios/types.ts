import type { Sample } from "../driver.ts";
import type { Options } from "../options.ts";

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
  notes?: Record<string, unknown>;
};

export type Scenario = { name: string; run(options: Options): Promise<ScenarioResult> };
