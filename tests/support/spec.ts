import type { TestContext } from "./app.ts";

/** The slice of JSON Schema the generated spec uses. */
export type JsonSchema = {
  $ref?: string;
  type?: string;
  format?: string;
  enum?: string[];
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minimum?: number;
  maximum?: number;
  example?: unknown;
  properties?: Record<string, JsonSchema>;
  required?: string[];
};

/** One route as the generated OpenAPI document declares it; `path` has `:id` where the spec has `{id}`. */
export type Operation = {
  method: string;
  path: string;
  body?: JsonSchema;
  query: Record<string, JsonSchema>;
  /** `x-access`: `user` for any signed-in user, `admin` for admins only; none for anyone. */
  access?: "user" | "admin";
};

type Parameter = { name: string; in: string; schema: JsonSchema };
type SpecOperation = {
  "x-access"?: "user" | "admin";
  parameters?: Parameter[];
  requestBody?: { content: { "application/json": { schema: JsonSchema } } };
};

/** Every operation of the app's /openapi.json, with `$ref`s resolved: the routes as the service declares them. */
export async function operations(t: TestContext): Promise<Operation[]> {
  const spec = (await t.request("GET", "/openapi.json")).body;
  const resolve = (schema: JsonSchema): JsonSchema =>
    schema.$ref ? spec.components.schemas[schema.$ref.split("/").at(-1)!] : schema;
  const paths = Object.entries(spec.paths as Record<string, Record<string, SpecOperation>>);
  return paths.flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, operation]) => {
      const body = operation.requestBody?.content["application/json"].schema;
      const query = (operation.parameters ?? []).filter((p) => p.in === "query");
      return {
        method: method.toUpperCase(),
        path: path.replace(/\{(\w+)\}/g, ":$1"),
        body: body && resolve(body),
        query: Object.fromEntries(query.map((p) => [p.name, p.schema])),
        access: operation["x-access"],
      };
    })
  );
}
