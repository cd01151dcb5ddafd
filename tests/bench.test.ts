// Where `deno task bench` writes: only a full run replaces the recorded results.
import { assertEquals } from "./support/assert.ts";
import { parseOptions, resultsPath } from "../bench/options.ts";

const written = (args: string[]) => resultsPath(parseOptions(args)).pathname.split("/").slice(-2).join("/");

Deno.test("bench – a full run of every scenario is the record: bench/results/latest.json", () => {
  assertEquals(written([]), "results/latest.json");
});

Deno.test("bench – a quick, partial or overridden run writes to bench/results/scratch.json instead", () => {
  for (const args of [["--quick"], ["--only", "confirm"], ["--seconds", "20"], ["--big-set", "1000"]]) {
    assertEquals(written(args), "results/scratch.json", args.join(" "));
  }
});

Deno.test("bench – the scratch file is kept out of git", async () => {
  const ignored = (await Deno.readTextFile(new URL("../.gitignore", import.meta.url))).split("\n");
  assertEquals(ignored.includes("bench/results/scratch.json"), true);
});
