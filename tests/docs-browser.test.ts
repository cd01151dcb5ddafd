// Swagger UI in a real headless Chromium (Debian's package, driven by playwright-core), against the real server.
import { type Browser, chromium } from "playwright-core";
import { assert, assertEquals } from "./support/assert.ts";
import { call, json, type ServerProcess, startServer, stopServer } from "../harness/server-process.ts";
import { api } from "../harness/paths.ts";

const chromiumPath = "/usr/bin/chromium";
const chromiumFlags = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** The server as `deno task start` runs it (embedded database, docs on), and a browser; both closed after `body`. */
async function withServerAndBrowser(body: (server: ServerProcess, browser: Browser) => Promise<void>) {
  try {
    await Deno.stat(chromiumPath);
  } catch {
    throw new Error(`no Chromium at ${chromiumPath}: apt-get install chromium (.ci/run does)`);
  }
  const dataDir = await Deno.makeTempDir({ prefix: "exam-slots-docs-" });
  const server = await startServer({ APP_ENV: "development", DATA_DIR: dataDir, JWT_SECRET: "d".repeat(32) });
  try {
    const browser = await chromium.launch({ executablePath: chromiumPath, args: chromiumFlags });
    try {
      await body(server, browser);
    } finally {
      await browser.close();
    }
  } finally {
    await stopServer(server);
    await Deno.remove(dataDir, { recursive: true });
  }
}

Deno.test("Swagger UI at /docs loads only from the service, lists every operation and runs GET /users/me with a token", async () => {
  await withServerAndBrowser(async (server, browser) => {
    const account = { username: "reader", email: "reader@example.test", password: "reader-password" };
    assertEquals((await call(server, api("/users/"), json({ ...account, password2: account.password }))).status, 201);
    const { access } = (await call(server, api("/users/login/"), json(account))).body;
    const spec = (await call(server, "/openapi.json")).body;
    const documented = Object.entries(spec.paths as Record<string, object>)
      .flatMap(([path, methods]) => Object.keys(methods).map((method) => `${method.toUpperCase()} ${path}`));

    const page = await browser.newPage();
    page.setDefaultTimeout(10_000);
    const requested: string[] = [];
    const elsewhere = () => requested.filter((url) => new URL(url).origin !== server.url);
    const pageErrors: string[] = [];
    page.on("request", (request) => requested.push(request.url()));
    page.on("pageerror", (error) => pageErrors.push(error.message));
    // Recorded above; refused here, so a request elsewhere fails the page rather than reaching the internet.
    await page.route((url) => url.origin !== server.url, (route) => route.abort());

    await page.goto(`${server.url}/docs`);
    assertEquals(elsewhere(), [], "the page asks only the service itself");
    const summaries = page.locator(".opblock-summary");
    await summaries.first().waitFor();
    const shown = await summaries.evaluateAll((blocks) =>
      blocks.map((block) =>
        `${block.querySelector(".opblock-summary-method")?.textContent} ${
          block.querySelector(".opblock-summary-path")?.getAttribute("data-path")
        }`
      )
    );
    assertEquals(shown.toSorted(), documented.toSorted());

    await page.getByRole("button", { name: "Authorize" }).first().click();
    const dialog = page.locator(".modal-ux");
    await dialog.locator("input").fill(access);
    await dialog.getByRole("button", { name: "Apply credentials" }).click();
    await dialog.getByRole("button", { name: "Remove authorization" }).waitFor();
    await dialog.getByRole("button", { name: "Close", exact: true }).click();

    const me = page.locator(".opblock-get", { has: page.locator(`[data-path="${api("/users/me")}"]`) });
    await me.locator(".opblock-summary").click();
    await me.getByRole("button", { name: "Try it out" }).click();
    const sent = page.waitForRequest((request) => request.url() === `${server.url}${api("/users/me")}`);
    await me.getByRole("button", { name: "Execute" }).click();
    assertEquals((await sent).headers().authorization, `Bearer ${access}`);
    const reply = me.locator(".live-responses-table .response");
    await reply.locator(".response-col_status", { hasText: "200" }).waitFor();
    assert((await reply.textContent())?.includes(account.email), "the response body is shown");

    assertEquals(pageErrors, []);
    assertEquals(elsewhere(), [], "Swagger UI asks only the service itself");
    assert(requested.some((url) => url.includes("/docs/assets/swagger-ui-dist@")), "the pinned assets were loaded");
  });
});
