// The examples of README.md and docs/ work exactly as printed, so the docs cannot drift from the service.
//
// A fenced block after `<!-- walkthrough: server -->` is the start command: one line ending in `deno task start`, run
// by bash in the repository as printed (the test adds only PORT, a free port, and DATA_DIR, a fresh folder under
// .data/). Blocks after `<!-- walkthrough -->` are shell commands, run in order in one bash session (variables carry
// from block to block and from file to file) with `set -euo pipefail`. A command may be followed by `# → <status> …`
// (continued on `#   ` lines): every request the command makes must answer that status, and every `"key":value` pair
// (values without `…`) and `Header-Name: value` on it must appear in what the command prints. A command that makes a
// request without such a line fails the test. `http://localhost:8000`, the printed server, becomes a recording proxy
// in front of the test's server. A ```ts block after `<!-- walkthrough: typescript -->` is type-checked and run from
// the repository root as printed, with the proxy's origin as its first argument.
import { assert, assertEquals } from "./support/assert.ts";
import { delay, findExecutable, freePort } from "../harness/process.ts";

const root = new URL("../", import.meta.url);
const printedOrigin = "http://localhost:8000";
/** The files whose marked blocks run, in this order: the docs' examples continue the README's session. */
const files = ["README.md", "docs/api.md", "docs/clients.md"];

type Kind = "server" | "sh" | "typescript";
type Block = { file: string; line: number; kind: Kind; code: string };
type Step = { file: string; line: number; command: string; expected?: { status: number; text: string } };
type Exchange = { step: number; method: string; path: string; status: number; replayed: boolean };

/** The fenced blocks of `file` that a `<!-- walkthrough… -->` comment marks. */
function markedBlocks(file: string): Block[] {
  const lines = Deno.readTextFileSync(new URL(file, root)).split("\n");
  const blocks: Block[] = [];
  lines.forEach((text, index) => {
    const marker = text.match(/^<!-- walkthrough(?:: (server|typescript))? -->$/);
    if (!marker) return;
    let open = index + 1;
    while (lines[open] === "") open++;
    const fence = lines[open]?.match(/^```(sh|ts)$/);
    assert(fence, `${file}:${index + 1}: a walkthrough marker must precede a \`\`\`sh or \`\`\`ts block`);
    const close = lines.indexOf("```", open + 1);
    const kind: Kind = (marker[1] as Kind | undefined) ?? "sh";
    assertEquals(fence[1], kind === "typescript" ? "ts" : "sh", `${file}:${open + 1}: the block's language`);
    blocks.push({ file, line: open + 2, kind, code: lines.slice(open + 1, close).join("\n") });
  });
  return blocks;
}

/** One step per command of a shell block (continuation lines joined), with the `# →` line that follows it. */
function stepsOf(block: Block): Step[] {
  const steps: Step[] = [];
  const lines = block.code.split("\n");
  let expecting = false;
  for (let i = 0; i < lines.length; i++) {
    const line = block.line + i;
    const text = lines[i];
    const expectation = text.match(/^# → (\d{3})\b(.*)$/);
    const continued: boolean = expecting && /^# {2,}\S/.test(text);
    expecting = Boolean(expectation) || continued;
    if (expectation) {
      const last = steps.at(-1);
      assert(last && !last.expected, `${block.file}:${line}: a "# →" line must follow a command`);
      last.expected = { status: Number(expectation[1]), text: expectation[2] };
    } else if (continued) {
      steps.at(-1)!.expected!.text += ` ${text.slice(1).trim()}`;
    } else if (text.trim() !== "" && !text.startsWith("#")) {
      let command = text;
      while (command.endsWith("\\")) command = `${command}\n${lines[++i]}`;
      steps.push({ file: block.file, line, command });
    }
  }
  return steps;
}

/** What a `# →` line says the output holds: `"key":value` pairs (without `…`) and `Header-Name: value` lines. */
function printedFragments(text: string): RegExp[] {
  const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  const pairs = [...text.matchAll(/"\w+":(?:"[^"…]*"|-?\d+(?:\.\d+)?|true|false|null)(?=[,}\]\s]|$)/g)]
    .map(([pair]) => new RegExp(`${escape(pair)}(?![\\w.])`));
  const headers = [...text.matchAll(/\b([A-Z][a-z]+(?:-[A-Z][a-z]+)+): (\S+?)[:,.]?(?=\s|$)/g)]
    .map(([, name, value]) => new RegExp(`^${escape(name)}: ${escape(value)}\\r?$`, "im"));
  return [...pairs, ...headers];
}

/** A proxy that forwards to `target` and records each answer under the step the script last announced. */
function recordingProxy(target: string) {
  const exchanges: Exchange[] = [];
  let step = 0;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (request) => {
    const url = new URL(request.url);
    const announced = url.pathname.match(/^\/__walkthrough\/step\/(\d+)$/);
    if (announced) {
      step = Number(announced[1]);
      return new Response(null, { status: 204 });
    }
    const headers = new Headers(request.headers);
    headers.delete("host");
    const body = request.body ? await request.arrayBuffer() : undefined;
    const answer = await fetch(new URL(url.pathname + url.search, target), {
      method: request.method,
      headers,
      body,
      redirect: "manual",
    });
    exchanges.push({
      step,
      method: request.method,
      path: url.pathname,
      status: answer.status,
      replayed: answer.headers.get("idempotent-replayed") === "true",
    });
    return new Response(answer.body, { status: answer.status, headers: answer.headers });
  });
  return {
    url: `http://127.0.0.1:${server.addr.port}`,
    exchanges,
    announce: async (n: number) => void await fetch(`http://127.0.0.1:${server.addr.port}/__walkthrough/step/${n}`),
    close: () => server.shutdown(),
  };
}

/** The printed start command, run by bash in the repository with a free PORT and a fresh DATA_DIR. */
async function startAsPrinted(command: string) {
  const port = freePort();
  const dataDir = `.data/walkthrough-${crypto.randomUUID()}`;
  const inherited = ["PATH", "HOME", "DENO_DIR"].flatMap((name) => {
    const value = Deno.env.get(name);
    return value === undefined ? [] : [[name, value]];
  });
  const child = new Deno.Command("bash", {
    args: ["-c", command],
    cwd: root.pathname,
    clearEnv: true,
    env: { ...Object.fromEntries(inherited), PORT: String(port), DATA_DIR: dataDir },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const output = Promise.all([child.stdout, child.stderr].map((s) => new Response(s).text()));
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    try {
      child.kill("SIGTERM");
    } catch { /* already exited */ }
    await child.status;
    await Deno.remove(new URL(dataDir, root), { recursive: true }).catch(() => {});
    return (await output).join("");
  };
  let exited = false;
  child.status.then(() => exited = true);
  // The first start in a fresh clone fills node_modules/ first: allow for it.
  for (const deadline = Date.now() + 120_000; !exited && Date.now() < deadline; await delay(200)) {
    try {
      await (await fetch(`${url}/healthz`)).body?.cancel();
      return { url, stop };
    } catch { /* not listening yet */ }
  }
  throw new Error(`\`${command}\` did not serve:\n${await stop()}`);
}

const marker = "@@walkthrough-step";

/** The shell steps as one bash script that announces each step to the proxy and in its output. */
function scriptOf(steps: Step[], proxy: string): string {
  const announce =
    `__walkthrough_step() { printf '\\n${marker} %s\\n' "$1"; curl -s -o /dev/null "${proxy}/__walkthrough/step/$1"; }`;
  const body = steps.flatMap((
    step,
    i,
  ) => [`__walkthrough_step ${i + 1}`, step.command.replaceAll(printedOrigin, proxy)]);
  return ["set -euo pipefail", announce, ...body, `__walkthrough_step ${steps.length + 1}`, ""].join("\n");
}

/** What each step printed, by step number. */
function outputsByStep(stdout: string): Map<number, string> {
  const outputs = new Map<number, string>();
  const parts = stdout.split(`\n${marker} `);
  for (const part of parts.slice(1)) {
    const newline = part.indexOf("\n");
    outputs.set(Number(part.slice(0, newline)), part.slice(newline + 1));
  }
  return outputs;
}

const where = (step: Step) => `${step.file}:${step.line}: ${step.command}`;
/** `/api/v1/reservations/12/confirm/` → `POST /api/v1/reservations/{id}/confirm`. */
const operationOf = (e: Exchange) => `${e.method} ${e.path.replace(/\/\d+(?=\/|$)/g, "/{id}").replace(/\/$/, "")}`;

const blocks = files.flatMap(markedBlocks);

Deno.test("the README starts the walkthrough's server in one line: `deno task start` with the admin in its environment", () => {
  const servers = blocks.filter((b) => b.kind === "server");
  assertEquals(servers.map((b) => b.file), ["README.md"], "one start command, in the README");
  assertEquals(servers[0].code.split("\n").length, 1);
  assert(/^(?:[A-Z_]+=(?:'[^']*'|\S+) )*deno task start$/.test(servers[0].code), servers[0].code);
  for (const name of ["ADMIN_EMAIL", "ADMIN_PASSWORD"]) assert(servers[0].code.includes(`${name}=`), `no ${name}`);
});

Deno.test("the walkthrough and the docs' examples run as printed against a fresh server, every answer as printed", async (t) => {
  for (const tool of ["bash", "curl", "jq"]) {
    assert(findExecutable(tool), `${tool} is not installed: apt-get install ${tool} (.ci/run does)`);
  }
  const steps = blocks.filter((b) => b.kind === "sh").flatMap(stepsOf);
  const typescript = blocks.filter((b) => b.kind === "typescript");
  assert(steps.some((s) => s.file === "README.md"), "the README has a walkthrough");
  for (const file of files.slice(1)) assert(blocks.some((b) => b.file === file), `${file} has no walkthrough block`);

  const server = await startAsPrinted(blocks.find((b) => b.kind === "server")!.code);
  const proxy = recordingProxy(server.url);
  try {
    // A scratch folder as the working directory, for anything a command may write.
    const scratch = await Deno.makeTempDir({ prefix: "exam-slots-walkthrough-" });
    const { code, stdout, stderr } = await new Deno.Command("bash", {
      args: ["-c", scriptOf(steps, proxy.url)],
      cwd: scratch,
      stdin: "null",
    }).output();
    await Deno.remove(scratch, { recursive: true });
    const outputs = outputsByStep(new TextDecoder().decode(stdout));
    const ran = Math.max(...outputs.keys());

    await t.step("every command succeeds", () => {
      const failed = steps[ran - 1];
      assertEquals(code, 0, failed && `${where(failed)}\n${outputs.get(ran)}${new TextDecoder().decode(stderr)}`);
    });

    await t.step("every request answers the printed status, and prints the printed fields", () => {
      steps.forEach((step, i) => {
        const exchanges = proxy.exchanges.filter((e) => e.step === i + 1);
        if (!step.expected) {
          assertEquals(exchanges.length, 0, `${where(step)}\nmakes a request but prints no "# →" line`);
          return;
        }
        assert(exchanges.length > 0, `${where(step)}\nhas a "# →" line but makes no request`);
        for (const exchange of exchanges) assertEquals(exchange.status, step.expected.status, where(step));
        const printed = outputs.get(i + 1) ?? "";
        for (const fragment of printedFragments(step.expected.text)) {
          assert(fragment.test(printed), `${where(step)}\nprinted no ${fragment}:\n${printed}`);
        }
      });
    });

    await t.step("the README walks through register, log in, availability, book, confirm, history and a replay", () => {
      const readme = proxy.exchanges.filter((e) => steps[e.step - 1]?.file === "README.md");
      const operations = new Set(readme.map(operationOf));
      for (
        const operation of [
          "POST /api/v1/users",
          "POST /api/v1/users/login",
          "GET /api/v1/availability",
          "POST /api/v1/reservations",
          "POST /api/v1/reservations/{id}/confirm",
          "GET /api/v1/reservations/{id}/history",
        ]
      ) assert(operations.has(operation), `the README's walkthrough does not ${operation}`);
      assert(readme.some((e) => e.replayed), "the README's walkthrough shows no replayed retry");
    });

    await t.step("the typed-client example type-checks and runs as printed", async () => {
      assertEquals(typescript.length, 1, "one typed-client example");
      const step = steps.length + 2;
      await proxy.announce(step);
      const child = new Deno.Command(Deno.execPath(), {
        args: ["run", "--check", "--allow-net", "-", proxy.url],
        cwd: root.pathname,
        stdin: "piped",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
      const writer = child.stdin.getWriter();
      await writer.write(new TextEncoder().encode(typescript[0].code));
      await writer.close();
      const result = await child.output();
      const output = new TextDecoder().decode(result.stdout) + new TextDecoder().decode(result.stderr);
      assertEquals(result.code, 0, `${typescript[0].file}:${typescript[0].line}\n${output}`);
      const exchanges = proxy.exchanges.filter((e) => e.step === step);
      assert(exchanges.length > 0, "the example makes no request");
      for (const e of exchanges) assert(e.status < 300, `${operationOf(e)} answered ${e.status}\n${output}`);
    });
  } finally {
    await proxy.close();
    await server.stop();
  }
});
