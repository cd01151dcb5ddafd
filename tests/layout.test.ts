// The layering of src/: imports flow downward (routes → handlers → services → platform), never up, never in circles.
import { assert, assertEquals } from "./support/assert.ts";
import { run } from "../harness/process.ts";

const root = new URL("../", import.meta.url);
const src = new URL("../src/", import.meta.url);

const base = ["config.ts", "platform"];
const shared = [...base, "deps.ts", "http"];
const domains = ["auth", "idempotency", "reservations", "availability", "users", "webhooks", "health"];

/** Each part of src/ (a folder, or a file at its top) and the parts it may import. */
const allowedImports: Record<string, string[]> = {
  "platform": [],
  "config.ts": ["platform"],
  "deps.ts": base,
  "http": [...base, "deps.ts"],
  "auth": shared,
  "health": shared,
  "idempotency": [...shared, "auth"],
  "reservations": [...shared, "auth", "idempotency"],
  "availability": [...shared, "auth", "reservations"],
  "users": [...shared, "auth", "idempotency", "reservations"],
  // Reads the reservations' events (their outbox), so it sits above reservations.
  "webhooks": [...shared, "auth", "reservations"],
  "app.ts": [...shared, ...domains],
  // The composition root also stores the capacity limits the database keeps the counters against.
  "bootstrap.ts": [...base, "deps.ts", "reservations"],
  "main.ts": [...shared, ...domains, "app.ts", "bootstrap.ts"],
  "tasks": [...shared, ...domains, "app.ts", "bootstrap.ts"],
};

/** `src/auth/guard.ts` → "auth"; `src/app.ts` → "app.ts". */
const partOf = (specifier: string) => specifier.slice(src.href.length).split("/")[0];

type Module = { specifier: string; dependencies?: { code?: { specifier: string }; type?: { specifier: string } }[] };

/**
 * Every import between two different parts of src/, as "from → to", from the entry points' module graphs; and every
 * import from src/ of a file of the repository outside it, as "from → path".
 */
async function importEdges(): Promise<{ edges: Set<string>; outward: Set<string> }> {
  const entries = ["main.ts", ...[...Deno.readDirSync(new URL("tasks/", src))].map((e) => `tasks/${e.name}`)];
  const edges = new Set<string>();
  const outward = new Set<string>();
  for (const entry of entries) {
    const graph = JSON.parse(await run(Deno.execPath(), ["info", "--json", new URL(entry, src).pathname]));
    for (const module of graph.modules as Module[]) {
      if (!module.specifier.startsWith(src.href)) continue;
      // Type-only imports count too: they tie the folders together just the same.
      const targets = (module.dependencies ?? []).flatMap((d) => [d.code?.specifier, d.type?.specifier]);
      for (const target of targets) {
        if (target?.startsWith(root.href) && !target.startsWith(src.href)) {
          outward.add(`${partOf(module.specifier)} → ${target.slice(root.href.length)}`);
        }
        if (!target?.startsWith(src.href)) continue;
        const [from, to] = [partOf(module.specifier), partOf(target)];
        if (from !== to) edges.add(`${from} → ${to}`);
      }
    }
  }
  return { edges, outward };
}

function findCycle(graph: Record<string, string[]>): string[] | undefined {
  const visiting: string[] = [];
  const done = new Set<string>();
  const visit = (node: string): string[] | undefined => {
    if (visiting.includes(node)) return [...visiting.slice(visiting.indexOf(node)), node];
    if (done.has(node)) return undefined;
    visiting.push(node);
    for (const next of graph[node] ?? []) {
      const cycle = visit(next);
      if (cycle) return cycle;
    }
    visiting.pop();
    done.add(node);
    return undefined;
  };
  for (const node of Object.keys(graph)) {
    const cycle = visit(node);
    if (cycle) return cycle;
  }
  return undefined;
}

const imports = await importEdges();
const edges = [...imports.edges];

Deno.test("the module graph of src/ is read", () => {
  assert(edges.includes("users → auth") && edges.includes("auth → http"), edges.join(", "));
});

Deno.test("the allowed layering of src/ has no cycle", () => {
  assertEquals(findCycle(allowedImports), undefined);
});

Deno.test("every part of src/ has a place in the layering", () => {
  for (const entry of Deno.readDirSync(src)) {
    assert(entry.name in allowedImports, `src/${entry.name} is not in the layering of tests/layout.test.ts`);
  }
});

Deno.test("src/ imports only downward: no folder imports one above it, so no folder cycle", () => {
  const upward = edges.filter((edge) => {
    const [from, to] = edge.split(" → ");
    return !allowedImports[from]?.includes(to);
  });
  assertEquals(upward, [], "imports against the layering");
});

Deno.test("platform/, http/, config.ts and deps.ts import no domain folder", () => {
  for (const lower of ["platform", "http", "config.ts", "deps.ts"]) {
    for (const domain of domains) assert(!edges.includes(`${lower} → ${domain}`), `${lower} imports ${domain}`);
  }
});

// Tooling (the Postman tour, the benchmark, the harness) builds on src/, never the other way round.
Deno.test("src/ imports no file of the repository outside src/: tools, tests, harness and bench sit above it", () => {
  assertEquals([...imports.outward], []);
});
