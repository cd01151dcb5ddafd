import type { Sample } from "./driver.ts";
import type { Options } from "./options.ts";
import type { Ratio, ScenarioResult } from "./scenarios/types.ts";
import { formatBudget } from "../harness/round-trip-budget.ts";

export type Machine = { nproc: number; cpu: string; deno: string; postgres: string };

export async function describeMachine(postgresVersion: string): Promise<Machine> {
  const cpuinfo = await Deno.readTextFile("/proc/cpuinfo").catch(() => "");
  return {
    nproc: navigator.hardwareConcurrency,
    cpu: cpuinfo.match(/^model name\s*:\s*(.+)$/m)?.[1] ?? "unknown",
    deno: Deno.version.deno,
    postgres: postgresVersion,
  };
}

export const targetMet = (ratio: Ratio) =>
  ratio.target === null
    ? null
    : "atLeast" in ratio.target
    ? ratio.value >= ratio.target.atLeast
    : ratio.value <= ratio.target.atMost;

const targetText = (ratio: Ratio) =>
  ratio.target === null ? "—" : "atLeast" in ratio.target ? `≥ ${ratio.target.atLeast}` : `≤ ${ratio.target.atMost}`;

const verdict = (ratio: Ratio) => ({ true: "met", false: "MISSED", null: "(no target)" })[String(targetMet(ratio))];

/** The figures as a Markdown table, readable on a terminal and pasteable into the README. */
export function formatTable(results: ScenarioResult[]): string {
  const rows = [
    "| scenario | measurement | ops | req/s | p50 ms | p95 ms | p99 ms | CPU busy |",
    "|---|---|---:|---:|---:|---:|---:|---:|",
  ];
  for (const result of results) {
    for (const [label, s] of Object.entries(result.samples) as [string, Sample][]) {
      const busy = `${Math.round(s.machineBusy * 100)}%`;
      rows.push(
        `| ${result.name} | ${label} | ${s.operations} | ${s.perSecond} | ${s.p50} | ${s.p95} | ${s.p99} | ${busy} |`,
      );
    }
  }
  rows.push("", "| ratio | value | target | |", "|---|---:|---|---|");
  for (const { ratio } of results) {
    rows.push(`| ${ratio.name} | ${ratio.value} | ${targetText(ratio)} | ${verdict(ratio)} |`);
  }
  const checks = results.flatMap((r) => Object.entries(r.checks ?? {}));
  if (checks.length > 0) {
    rows.push("", "| check | result | detail |", "|---|---|---|");
    for (const [name, check] of checks) {
      rows.push(`| ${name} | ${check.ok ? "clean" : "FAILED"} | ${JSON.stringify(check.detail)} |`);
    }
  }
  for (const { budget } of results) {
    if (budget) rows.push("", formatBudget(budget.rows, budget.rttMs));
  }
  return rows.join("\n");
}

export async function saveResults(
  path: URL,
  report: { machine: Machine; options: Options; results: ScenarioResult[]; startedAt: string },
) {
  await Deno.mkdir(new URL(".", path), { recursive: true });
  await Deno.writeTextFile(path, JSON.stringify(report, null, 2) + "\n");
}
