import { swaggerUI } from "@hono/swagger-ui";
import type { OpenAPIHono } from "@hono/zod-openapi";
import { Hono } from "hono";
import type { Config } from "../config.ts";
// Text imports put the files in the module graph: locked by deno.lock, bundled on Deno Deploy, no read permission.
import css from "swagger-ui-dist/swagger-ui.css" with { type: "text" };
import bundle from "swagger-ui-dist/swagger-ui-bundle.js" with { type: "text" };
import swaggerUiDist from "swagger-ui-dist/package.json" with { type: "json" };

export const title = "Exam-slot reservation API";
/** Where Swagger UI and the document it reads are served, when DOCS_ENABLED. */
export const docsPath = "/docs";
export const specPath = "/openapi.json";

const assets: Record<string, { body: string; type: string }> = {
  "swagger-ui.css": { body: css, type: "text/css; charset=utf-8" },
  "swagger-ui-bundle.js": { body: bundle, type: "text/javascript; charset=utf-8" },
};

// `@hono/swagger-ui` asks for `<baseUrl>/swagger-ui-dist@<version>/<file>`.
const assetsBase = (path: string) => `${path}/assets`;
const assetUrl = (path: string, name: string) => `${assetsBase(path)}/swagger-ui-dist@${swaggerUiDist.version}/${name}`;

// The version is part of every asset URL, so a browser may keep them for good.
const immutable = "public, max-age=31536000, immutable";

/** The asset URLs of Swagger UI served at `path`. */
export const swaggerAssetUrls = (path: string) => Object.keys(assets).map((name) => assetUrl(path, name));

/** Swagger UI at `path` for the spec at `specUrl`, its CSS and bundle served from here rather than from a CDN. */
export function swaggerDocs(path: string, specUrl: string) {
  const docs = new Hono();
  docs.get(
    path,
    swaggerUI({
      url: specUrl,
      title,
      baseUrl: assetsBase(path),
      version: swaggerUiDist.version,
      // The default is validator.swagger.io (the standalone layout's badge): off, so no layout can reach it.
      validatorUrl: "none",
    }),
  );
  for (const [name, { body, type }] of Object.entries(assets)) {
    docs.get(assetUrl(path, name), (c) => c.body(body, 200, { "Content-Type": type, "Cache-Control": immutable }));
  }
  return docs;
}

/** `GET /`: where to read about the API, or that the docs are off here. */
export function apiIndex(config: Pick<Config, "DOCS_ENABLED">, base: string) {
  const links = { api: base, health: "/healthz" };
  if (config.DOCS_ENABLED) return { title, docs: docsPath, openapi: specPath, ...links };
  return {
    title,
    docs: null,
    detail: "The API docs are off here (production hides them unless told): DOCS_ENABLED=true serves them",
    ...links,
  };
}

type Guide = Pick<
  Config,
  "ACCESS_TTL" | "SLOT_MINUTES" | "BOOKING_LEAD_DAYS" | "MAX_CONCURRENT_EXAMINEES"
>;

/** The document's `info.description`: the first requests a newcomer makes, in this deployment's numbers. */
export function gettingStarted(config: Guide, base: string): string {
  return [
    "How to start, in Swagger UI or with curl:",
    "",
    `1. Register a customer: \`POST ${base}/users/\` (no token needed).`,
    `2. Log in: \`POST ${base}/users/login/\` answers \`access\` and \`refresh\` tokens. Press **Authorize** and paste ` +
    `the \`access\` token: it lasts ${config.ACCESS_TTL} seconds; \`POST ${base}/users/login/refresh/\` trades the ` +
    "`refresh` token for a new pair.",
    `3. Book: \`POST ${base}/reservations/\` with a window on ${config.SLOT_MINUTES}-minute slot boundaries (UTC), ` +
    `at most 24 hours long, starting at least ${config.BOOKING_LEAD_DAYS} days ahead, for 1 to ` +
    `${config.MAX_CONCURRENT_EXAMINEES} examinees. It is \`pending\` until an admin confirms it ` +
    `(\`POST ${base}/reservations/{id}/confirm/\`).`,
    "",
    "**The first admin** cannot register as one: set `ADMIN_EMAIL` and `ADMIN_PASSWORD` (in the environment or in " +
    "`.env`) before the server starts, and that admin is made at start-up; or run " +
    "`deno task create-admin --email EMAIL --password PASSWORD`.",
    "",
    "Every error is a problem document (RFC 9457, `application/problem+json`) with a stable `code`.",
  ].join("\n");
}

// deno-lint-ignore no-explicit-any -- an OpenAPI document, changed key by key
type Json = any;

const methods = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

/** Keywords merged into named component schemas: the examples and bounds that depend on settings or today's date. */
export type SchemaFacts = Record<string, { example?: unknown; properties?: Record<string, Record<string, unknown>> }>;

/**
 * The OpenAPI document of `app`, with what only this deployment knows: its description, this server as the one to
 * call, and `schemas`. An operation behind no access rule (`guardedRoute` sets `security`) is public: `security: []`.
 */
export function servedDocument(
  app: OpenAPIHono<Json>,
  { description, schemas }: { description: string; schemas: SchemaFacts },
) {
  const document: Json = app.getOpenAPI31Document({
    openapi: "3.1.0",
    info: { title, version: "1.0.0", description },
    servers: [{ url: "/", description: "The server that serves this document" }],
  });
  for (const item of Object.values<Json>(document.paths)) {
    for (const method of methods) if (item[method]) item[method].security ??= [];
  }
  for (const [name, { example, properties = {} }] of Object.entries(schemas)) {
    const schema = document.components.schemas[name];
    if (example !== undefined) schema.example = example;
    for (const [property, keywords] of Object.entries(properties)) Object.assign(schema.properties[property], keywords);
  }
  return document;
}
