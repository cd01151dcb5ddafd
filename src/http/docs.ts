import { swaggerUI } from "@hono/swagger-ui";
import { Hono } from "hono";
// Text imports put the files in the module graph: locked by deno.lock, bundled on Deno Deploy, no read permission.
import css from "swagger-ui-dist/swagger-ui.css" with { type: "text" };
import bundle from "swagger-ui-dist/swagger-ui-bundle.js" with { type: "text" };
import swaggerUiDist from "swagger-ui-dist/package.json" with { type: "json" };

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
      title: "Exam-slot reservation API",
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
