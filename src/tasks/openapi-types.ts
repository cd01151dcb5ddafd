import openapiTS, { astToString, COMMENT_HEADER, type OpenAPI3 } from "openapi-typescript";
import { openApiDocument } from "./openapi-document.ts";

export const typesPath = new URL("../../infra/openapi.d.ts", import.meta.url);

/** The document without its examples: types need none, and the booking example is a window dated from today. */
function withoutExamples(node: unknown, key?: string): unknown {
  if (Array.isArray(node)) return node.map((item) => withoutExamples(item));
  if (typeof node !== "object" || node === null) return node;
  // Under `properties` the keys are field names, whatever they are called.
  const kept = Object.entries(node).filter(([name]) => key === "properties" || !["example", "examples"].includes(name));
  return Object.fromEntries(kept.map(([name, value]) => [name, withoutExamples(value, name)]));
}

/** TypeScript types of every path, parameter, body and response, from the served /openapi.json. */
export async function openApiTypes(): Promise<string> {
  const ast = await openapiTS(withoutExamples(await openApiDocument()) as OpenAPI3);
  return COMMENT_HEADER + astToString(ast);
}

if (import.meta.main) {
  await Deno.writeTextFile(typesPath, await openApiTypes());
  console.error(`wrote ${typesPath.pathname}`);
}
