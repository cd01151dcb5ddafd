import postgres from "postgres";
import { startTestServers } from "../harness/servers.ts";
import { parseOptions, resultsPath } from "./options.ts";
import { describeMachine, formatTable, saveResults } from "./report.ts";
import type { Scenario, ScenarioResult } from "./scenarios/types.ts";
import { confirm } from "./scenarios/confirm.ts";
import { availability } from "./scenarios/availability.ts";
import { create } from "./scenarios/create.ts";
import { login } from "./scenarios/login.ts";
import { loginStorm } from "./scenarios/login-storm.ts";
import { edge, edgePooled } from "./scenarios/edge.ts";
import { confirmEdge } from "./scenarios/confirm-edge.ts";
import { bulkConfirm } from "./scenarios/bulk-confirm.ts";

const scenarios: Scenario[] = [
  confirm,
  bulkConfirm,
  availability,
  create,
  login,
  loginStorm,
  edge,
  edgePooled,
  confirmEdge,
];

const options = parseOptions(Deno.args);
const unknown = options.only.filter((name) => !scenarios.some((s) => s.name === name));
if (unknown.length > 0) {
  throw new Error(`unknown scenario ${unknown.join(", ")}: pick from ${scenarios.map((s) => s.name)}`);
}
const selected = scenarios.filter((s) => options.only.length === 0 || options.only.includes(s.name));
const startedAt = new Date().toISOString();
const servers = await startTestServers();

let exitCode = 0;
try {
  const machine = await describeMachine(await postgresVersion(servers.databaseUrl));
  console.log(`bench: ${machine.nproc} × ${machine.cpu}, Deno ${machine.deno}, PostgreSQL ${machine.postgres}`);
  console.log(`options: ${JSON.stringify(options)}\n`);
  const results: ScenarioResult[] = [];
  for (const scenario of selected) {
    const began = performance.now();
    results.push(await scenario.run(options));
    console.log(`${scenario.name}: done in ${((performance.now() - began) / 1000).toFixed(1)} s`);
  }
  console.log(`\n${formatTable(results)}\n`);
  const path = resultsPath(options);
  await saveResults(path, { startedAt, machine, options, results });
  console.log(`saved ${path.pathname}${options.recorded ? "" : " (not a full run: latest.json keeps the record)"}`);
  const failed = results.flatMap((r) => Object.entries(r.checks ?? {})).filter(([, check]) => !check.ok);
  if (failed.length > 0) {
    console.error(`correctness under load FAILED: ${failed.map(([name]) => name).join(", ")}`);
    exitCode = 1;
  }
} finally {
  await servers.stop();
}
Deno.exit(exitCode);

async function postgresVersion(url: string): Promise<string> {
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const [{ server_version }] = await sql`SHOW server_version`;
    return server_version;
  } finally {
    await sql.end();
  }
}
