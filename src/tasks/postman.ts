import { convert } from "openapi-to-postmanv2";
import { apiBase } from "../app.ts";
import { openApiDocument } from "./openapi-document.ts";

export const collectionPath = new URL("../../infra/postman_collection.json", import.meta.url);

// deno-lint-ignore no-explicit-any -- Postman collection JSON, edited in place
type Json = any;

// Both answers carry a fresh pair: refresh tokens rotate, so the stored one must follow.
const storeTokens = {
  listen: "test",
  script: {
    type: "text/javascript",
    exec: [
      "if (pm.response.code === 200) {",
      "  const { access, refresh } = pm.response.json();",
      '  pm.collectionVariables.set("access", access);',
      '  pm.collectionVariables.set("refresh", refresh);',
      "}",
    ],
  },
};
const tokenPaths = new Set([`${apiBase}/users/login`, `${apiBase}/users/login/refresh`]);

function converted(document: Json): Promise<Json> {
  const options = { folderStrategy: "Tags", parametersResolution: "Example" } as const;
  return new Promise((resolve, reject) => {
    convert({ type: "json", data: document }, options, (error, result) => {
      if (error) reject(error);
      else if (!result?.result || !result.output) reject(new Error(`conversion failed: ${result?.reason}`));
      else resolve(result.output[0].data);
    });
  });
}

const bodyVariables: Record<string, string> = {
  username: "{{username}}",
  email: "{{email}}",
  password: "{{password}}",
  password2: "{{password}}",
  refresh: "{{refresh}}",
};

/** Register, log in, refresh and log out then run one after another without editing a body. */
function withVariables(raw: string): string {
  const body = JSON.parse(raw);
  for (const key of Object.keys(body)) if (key in bodyVariables) body[key] = bodyVariables[key];
  return JSON.stringify(body, null, 2);
}

function adjustRequest(item: Json) {
  const request = item.request;
  // Secured routes inherit the collection's Bearer {{access}}; the others send no token.
  if (request.auth?.type === "bearer") delete request.auth;
  else request.auth = { type: "noauth" };
  if (request.body?.mode === "raw") request.body.raw = withVariables(request.body.raw);
  if (tokenPaths.has(`/${request.url.path.join("/")}`)) item.event = [storeTokens];
  // Response examples are faked at random by the converter: dropped so the file only changes with the API.
  delete item.response;
  delete item.id;
}

function visit(items: Json[]) {
  for (const item of items) {
    if (item.item) visit(item.item);
    if (item.request) adjustRequest(item);
    delete item.id;
  }
}

/** A Postman v2.1 collection of every documented route, with token handling wired in. */
export async function postmanCollection(): Promise<Json> {
  const collection = await converted(await openApiDocument());
  visit(collection.item);
  delete collection.info._postman_id;
  collection.info.description = "Run “Log in with email and password” first: it stores {{access}} and {{refresh}}.";
  collection.auth = { type: "bearer", bearer: [{ key: "token", value: "{{access}}", type: "string" }] };
  collection.variable = [
    { key: "baseUrl", value: "http://localhost", type: "string" },
    { key: "username", value: "acme", type: "string" },
    { key: "email", value: "exams@acme.example", type: "string" },
    { key: "password", value: "correct horse battery", type: "string" },
    { key: "access", value: "", type: "string" },
    { key: "refresh", value: "", type: "string" },
  ];
  return collection;
}

export const serialize = (collection: Json) => `${JSON.stringify(collection, null, 2)}\n`;

if (import.meta.main) {
  await Deno.writeTextFile(collectionPath, serialize(await postmanCollection()));
  console.error(`wrote ${collectionPath.pathname}`);
}
