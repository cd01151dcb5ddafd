// README.md and docs/ stay whole: every link resolves inside the repository, and the README stays a front door.
import { assert, assertEquals } from "./support/assert.ts";
import { errorCodes } from "../src/http/problem.ts";
import { openApiDocument } from "../src/tasks/openapi-document.ts";

const root = new URL("../", import.meta.url);
const pages = ["README.md", ...[...Deno.readDirSync(new URL("docs/", root))].map((e) => `docs/${e.name}`)]
  .filter((page) => page.endsWith(".md"));

const read = (page: string) => Deno.readTextFileSync(new URL(page, root));

/** The page without its fenced blocks and code spans: what a reader sees as prose. */
const prose = (text: string) => text.replace(/^```[^\n]*\n[\s\S]*?^```$/gm, "").replace(/`[^`\n]*`/g, "");

/** GitHub's anchors for the headings of a page: lower case, punctuation dropped, spaces as hyphens, repeats numbered. */
function anchorsOf(text: string): Set<string> {
  const seen = new Map<string, number>();
  const anchors = new Set<string>();
  for (const [, heading] of prose(text.replace(/`/g, "")).matchAll(/^#{1,6} (.+)$/gm)) {
    const slug = heading.trim().toLowerCase().replace(/[^\p{L}\p{N}\s_-]/gu, "").replace(/\s/g, "-");
    const repeat = seen.get(slug) ?? 0;
    seen.set(slug, repeat + 1);
    anchors.add(repeat === 0 ? slug : `${slug}-${repeat}`);
  }
  return anchors;
}

/** Every link target of a page: inline `[text](target)`, reference `[name]: target` and `<autolink>`. */
function linksOf(text: string): string[] {
  const body = prose(text);
  return [
    ...[...body.matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)].map((m) => m[1]),
    ...[...body.matchAll(/^\s*\[[^\]]+\]:\s*(\S+)/gm)].map((m) => m[1]),
    ...[...body.matchAll(/<([a-z][a-z0-9+.-]*:[^>\s]+)>/gi)].map((m) => m[1]),
  ];
}

Deno.test("every relative link of README.md and docs/ resolves to a file of the repository, and to a heading in it", () => {
  const broken: string[] = [];
  for (const page of pages) {
    for (const link of linksOf(read(page))) {
      if (/^[a-z][a-z0-9+.-]*:/i.test(link)) continue; // the next test refuses these
      const [path, fragment] = link.split("#");
      const target = path === "" ? new URL(page, root) : new URL(path, new URL(page, root));
      const name = target.href.slice(root.href.length);
      if (!target.href.startsWith(root.href)) {
        broken.push(`${page}: ${link} leaves the repository`);
        continue;
      }
      let exists = true;
      try {
        Deno.statSync(target);
      } catch {
        exists = false;
      }
      if (!exists) {
        broken.push(`${page}: ${link} (no ${name})`);
        continue;
      }
      if (fragment && name.endsWith(".md") && !anchorsOf(read(name)).has(fragment)) {
        broken.push(`${page}: ${link} (no heading #${fragment} in ${name})`);
      }
    }
  }
  assertEquals(broken, []);
});

Deno.test("no link of README.md and docs/ leads out of the repository: no URL outside code", () => {
  const outward = pages.flatMap((page) => {
    const body = prose(read(page));
    const urls = [...body.matchAll(/\b[a-z][a-z0-9+.-]*:\/\/\S+/gi)].map((m) => m[0]);
    const schemes = linksOf(read(page)).filter((link) => /^[a-z][a-z0-9+.-]*:/i.test(link));
    return [...urls, ...schemes].map((url) => `${page}: ${url}`);
  });
  assertEquals(outward, []);
});

Deno.test("the README is a front door: at most 250 lines, naming `deno task start` and `deno task test`", () => {
  const readme = read("README.md");
  const lines = readme.trimEnd().split("\n").length;
  assert(lines <= 250, `README.md has ${lines} lines`);
  for (const command of ["deno task start", "deno task test"]) assert(readme.includes(command), `no \`${command}\``);
});

Deno.test("docs/api.md, the reference, names every path the server documents and every error code it answers", async () => {
  const reference = read("docs/api.md");
  const paths = Object.keys((await openApiDocument()).paths as Record<string, unknown>);
  const missing = [
    ...paths.filter((path) => !reference.includes(`${path}/\``) && !reference.includes(`${path}\``)),
    ...errorCodes.filter((code) => !reference.includes(`\`${code}\``)),
  ];
  assertEquals(missing, []);
});
