// The files docker, compose and nginx read, checked without an engine; infra/compose-smoke.sh runs the stack itself.
import { parse } from "yaml";
import { assert, assertEquals, assertMatch } from "./support/assert.ts";
import { run } from "../harness/process.ts";
import { startNginx } from "../harness/nginx.ts";

const mainModule = new URL("../src/main.ts", import.meta.url).pathname;
const read = (path: string) => Deno.readTextFile(new URL(`../${path}`, import.meta.url));

// deno-lint-ignore no-explicit-any -- the compose file is checked key by key
const compose: any = parse(await read("infra/docker-compose.yaml"), { merge: true });
// deno-lint-ignore no-explicit-any
const tlsOverride: any = parse(await read("infra/docker-compose.tls.yaml"));
// deno-lint-ignore no-explicit-any
const collector: any = parse(await read("infra/otel-collector.yaml"));
const dockerfile = await read("infra/Dockerfile");
const nginxConf = await read("infra/nginx.conf");
const nginxTls = await read("infra/nginx-tls.conf");
const appRoleScript = "infra/postgres-init/app-role.sh";
const envSample = await read(".env.sample");
const services = compose.services;
/** The stack `docker compose up` starts: every service outside a profile. */
const plainStack = Object.keys(services).filter((name) => !services[name].profiles);

/** What compose makes of `${NAME:-default}` and `${NAME:?error}` when .env leaves NAME unset. */
const withDefaults = (value: string) => String(value).replace(/\$\{\w+:-([^}]*)\}/g, "$1");

/** Standard OpenTelemetry variables, which Deno reads itself (OTEL_DENO=true), not src/config.ts. */
const openTelemetryVariables = ["OTEL_DENO", "OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_SERVICE_NAME"];

/** The config variables compose does not pass: the embedded database's folder, and Deno Deploy's own marker. */
const notForCompose = ["DATA_DIR", "DENO_DEPLOYMENT_ID"];

/** The variables src/config.ts parses: the keys of its zod schema. */
async function configVariables(): Promise<string[]> {
  const source = await read("src/config.ts");
  return [...source.matchAll(/^ {2}([A-Z][A-Z0-9_]+): /gm)].map((m) => m[1]);
}

Deno.test("compose runs every service the docs name, each but the webhook worker with a healthcheck", () => {
  assertEquals(plainStack.sort(), ["api", "deliver", "nginx", "postgres", "redis", "redis-http"]);
  // The worker serves no port: compose restarts it when it ends (infra/compose-smoke.sh checks it runs).
  assertEquals([services.deliver.healthcheck, services.deliver.restart], [{ disable: true }, "unless-stopped"]);
  for (const name of plainStack.filter((name) => name !== "deliver")) {
    // The api's healthcheck is the image's HEALTHCHECK.
    const test = name === "api"
      ? dockerfile.match(/^HEALTHCHECK .*\n.*$/m)?.[0]
      : services[name].healthcheck?.test?.join(" ");
    assert(test, `${name} has no healthcheck`);
  }
  assertMatch(services.postgres.image, /^postgres:15\./);
  assertEquals(services.postgres.volumes[0], "pgdata:/var/lib/postgresql/data");
  assertMatch(services["redis-http"].image, /^hiett\/serverless-redis-http:/);
});

Deno.test("every image is pinned to an exact version", () => {
  const images = Object.values(services).flatMap((service) => (service as { image?: string }).image ?? []);
  assertEquals(images.length, Object.keys(services).length - 2, "every service but the built api and worker names one");
  for (const image of images) {
    // PostgreSQL numbers its releases major.minor (15.18); the others major.minor.patch.
    const exact = image.startsWith("postgres:") ? /:\d+\.\d+-/ : /:\d+\.\d+\.\d+(-[\w.]+)?$/;
    assertMatch(image, exact, `${image} is not pinned to an exact version`);
  }
});

Deno.test("compose has no top-level name, which the docker-compose 1.x of Debian refuses", () => {
  assertEquals(compose.name, undefined);
  assertMatch(envSample, /^COMPOSE_PROJECT_NAME=exam-slots$/m);
});

Deno.test("only nginx and the webhook worker have a route out: the api and the data sit on internal networks", () => {
  assertEquals(compose.networks.backend, { internal: true });
  assertEquals(compose.networks.frontend, { internal: true });
  for (const name of ["postgres", "redis", "redis-http"]) assertEquals(services[name].networks, ["backend"]);
  assertEquals([...services.api.networks].sort(), ["backend", "frontend"]);
  assertEquals([...services.nginx.networks].sort(), ["edge", "frontend"]);
  assertEquals([...services.deliver.networks].sort(), ["backend", "egress"]);
  assert(!compose.networks.edge?.internal, "nginx publishes its ports from the edge network");
  assert(!compose.networks.egress?.internal, "the worker reaches the receivers from the egress network");
  const routesOut = (network: string) => plainStack.filter((name) => services[name].networks.includes(network));
  assertEquals([routesOut("edge"), routesOut("egress")], [["nginx"], ["deliver"]]);
  // So the api delivers no webhooks itself: the worker, which shares its configuration, does.
  assertEquals(services.api.environment.WEBHOOK_WORKER, "false");
  assertEquals(services.deliver.command, ["deno", "task", "--quiet", "deliver"]);
  assertEquals({ ...services.deliver.environment, WEBHOOK_WORKER: "false" }, services.api.environment);
});

Deno.test("redis has a memory bound and never evicts: a full memory refuses writes instead of dropping a limiter key", () => {
  const command: string[] = services.redis.command;
  const option = (name: string) => command[command.indexOf(name) + 1];
  assertMatch(option("--maxmemory"), /^\d+[kmg]b$/);
  assertEquals(option("--maxmemory-policy"), "noeviction");
  assertEquals(option("--appendonly"), "yes");
});

Deno.test("PostgreSQL is healthy only once it listens on TCP, where the api connects, not while it initialises", () => {
  assertMatch(services.postgres.healthcheck.test.join(" "), /pg_isready -h 127\.0\.0\.1 /);
});

Deno.test("the api connects as a role of its own, made on an empty volume by the init script, not the superuser", async () => {
  const env = services.postgres.environment;
  assertEquals(withDefaults(env.POSTGRES_APP_USER), "exam_app");
  assertMatch(env.POSTGRES_APP_PASSWORD, /^\$\{POSTGRES_APP_PASSWORD:\?/);
  assert(services.postgres.volumes.includes("./postgres-init:/docker-entrypoint-initdb.d:ro"));
  const superuser = withDefaults(env.POSTGRES_USER);
  const url = new URL(withDefaults(services.api.environment.DATABASE_URL).replace("${POSTGRES_APP_PASSWORD}", "pw"));
  assertEquals(url.username, "exam_app");
  assert(url.username !== superuser, "the api is not the superuser");
  // Executable: the image runs it (a sourced script would share the entrypoint's shell options).
  const script = await Deno.stat(new URL(`../${appRoleScript}`, import.meta.url));
  assert((script.mode ?? 0) & 0o111, `${appRoleScript} is not executable`);
  const text = await read(appRoleScript);
  for (const name of ["POSTGRES_USER", "POSTGRES_DB", "POSTGRES_APP_USER", "POSTGRES_APP_PASSWORD"]) {
    assert(text.includes(`\${${name}:?`), `${appRoleScript} requires ${name}`);
  }
  assertMatch(text, /NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS/);
  assertMatch(text, /ALTER SCHEMA public OWNER TO/);
});

Deno.test("the api starts only once postgres, redis and the Upstash proxy are healthy", () => {
  const dependsOn = services.api.depends_on;
  for (const dependency of ["postgres", "redis", "redis-http"]) {
    assertEquals(dependsOn[dependency], { condition: "service_healthy" });
  }
  assertEquals(services.nginx.depends_on, { api: { condition: "service_healthy" } });
  assertEquals(services.api.build, { context: "..", dockerfile: "infra/Dockerfile" });
});

Deno.test("nginx publishes port 80 and proxies to the api with its config mounted", () => {
  assertEquals(services.nginx.ports.map(withDefaults), ["80:80"]);
  assert(services.nginx.volumes.includes("./nginx.conf:/etc/nginx/nginx.conf:ro"));
  assertMatch(nginxConf, /server api:8000;/);
  assertMatch(nginxConf, /proxy_pass http:\/\/api;/);
});

Deno.test("the api gets the database, the Upstash proxy, a required JWT secret and production mode", () => {
  const env = services.api.environment;
  assertEquals(withDefaults(env.APP_ENV), "production");
  assertMatch(
    withDefaults(env.DATABASE_URL),
    /^postgres:\/\/exam_app:\$\{POSTGRES_APP_PASSWORD\}@postgres:5432\/exam_slots$/,
  );
  assertEquals(env.UPSTASH_REDIS_REST_URL, "http://redis-http:80");
  assertEquals(env.UPSTASH_REDIS_REST_TOKEN, "${UPSTASH_REDIS_REST_TOKEN}");
  assertMatch(services["redis-http"].environment.SRH_TOKEN, /^\$\{UPSTASH_REDIS_REST_TOKEN:\?/);
  assertMatch(env.JWT_SECRET, /^\$\{JWT_SECRET:\?/);
  assertMatch(services.postgres.environment.POSTGRES_PASSWORD, /^\$\{POSTGRES_PASSWORD:\?/);
});

Deno.test("the api's compose variables are all ones src/config.ts or Deno's OpenTelemetry reads", async () => {
  const known = new Set([...await configVariables(), ...openTelemetryVariables]);
  for (const name of Object.keys(services.api.environment)) assert(known.has(name), `${name} is not in config.ts`);
});

Deno.test("compose passes every config variable on, so that a setting in .env reaches the api", async () => {
  const passed = Object.keys(services.api.environment);
  for (const name of await configVariables()) {
    if (notForCompose.includes(name)) continue;
    assert(passed.includes(name), `${name} is in config.ts, but compose does not pass it to the api`);
  }
});

Deno.test("TLS is an override: port 443 and the TLS listener with its certificates, plain http redirecting", () => {
  const nginx = tlsOverride.services.nginx;
  assertEquals(Object.keys(tlsOverride.services), ["nginx"]);
  assertEquals(nginx.ports.map(withDefaults), ["443:443"]);
  assert(nginx.volumes.includes("./nginx-tls.conf:/etc/nginx/tls/listener.conf:ro"));
  assertMatch(nginx.volumes.find((v: string) => v.endsWith(":/etc/nginx/certs:ro")), /^\$\{TLS_CERT_DIR:\?/);
  assertMatch(nginxConf, /^\s*listen 80;/m);
  assertMatch(nginxConf, /^\s*include \/etc\/nginx\/tls\/\*\.conf;/m);
  assertMatch(nginxTls, /^listen 443 ssl;/m);
  assertMatch(nginxTls, /^ssl_certificate \/etc\/nginx\/certs\/tls\.crt;/m);
  assertMatch(nginxTls, /^ssl_certificate_key \/etc\/nginx\/certs\/tls\.key;/m);
  assertMatch(nginxTls, /^ {2}return 308 https:\/\/\$host\$request_uri;$/m);
  assertMatch(nginxTls, /^if \(\$uri = \/healthz\) \{$/m, "the healthcheck's path stays on plain http");
  assertEquals(services.nginx.healthcheck.test.at(-1), "http://127.0.0.1/healthz");
});

Deno.test("the observability profile adds a collector passing traces to Jaeger, and leaves the plain stack as it was", () => {
  for (const name of ["otel-collector", "jaeger"]) assertEquals(services[name].profiles, ["observability"]);
  assertMatch(services["otel-collector"].image, /^otel\/opentelemetry-collector-contrib:/);
  assertMatch(services.jaeger.image, /^jaegertracing\/jaeger:/);
  assert(services["otel-collector"].volumes.includes("./otel-collector.yaml:/etc/otelcol-contrib/config.yaml:ro"));
  assertEquals(services.jaeger.ports, ["127.0.0.1:16686:16686"]);

  const env = services.api.environment;
  assertEquals(withDefaults(env.OTEL_DENO), "false", "OpenTelemetry stays off unless OTEL_DENO=true");
  assertEquals(withDefaults(env.OTEL_EXPORTER_OTLP_ENDPOINT), "http://otel-collector:4318");
  assertEquals(withDefaults(env.OTEL_SERVICE_NAME), "exam-slots");
  assert(services["otel-collector"].networks.includes("backend"), "the api reaches the collector");

  assertEquals(collector.receivers.otlp.protocols.http.endpoint, "0.0.0.0:4318");
  const traces = collector.service.pipelines.traces;
  assertEquals(traces.receivers, ["otlp"]);
  const [exporter] = traces.exporters;
  assertEquals(collector.exporters[exporter].endpoint, "jaeger:4317");
  assert(services.jaeger.networks.some((n: string) => services["otel-collector"].networks.includes(n)));
});

Deno.test(".env.sample lists every config and compose variable, each under a comment", async () => {
  const lines = envSample.split("\n");
  const composeText = await read("infra/docker-compose.yaml") + await read("infra/docker-compose.tls.yaml");
  const interpolated = [...composeText.matchAll(/\$\{(\w+)/g)].map((m) => m[1]);
  for (const name of new Set([...await configVariables(), ...interpolated])) {
    const at = lines.findIndex((line) => new RegExp(`^(# )?${name}=`).test(line));
    assert(at > 0, `${name} is missing from .env.sample`);
    assert(lines[at - 1].startsWith("#"), `${name} has no comment line`);
  }
  const secrets = [
    "JWT_SECRET",
    "ADMIN_PASSWORD",
    "POSTGRES_PASSWORD",
    "POSTGRES_APP_PASSWORD",
    "UPSTASH_REDIS_REST_TOKEN",
  ];
  for (const secret of secrets) {
    assert(lines.includes(`${secret}=`), `${secret} must be blank in .env.sample`);
  }
});

Deno.test("the Dockerfile pins the Deno we run, caches dependencies from the lock first and runs as non-root", () => {
  assertEquals(dockerfile.match(/^FROM (\S+)/m)?.[1], `denoland/deno:${Deno.version.deno}`);
  const at = (pattern: RegExp) => dockerfile.search(pattern);
  const copyLock = at(/^COPY .*deno\.json deno\.lock/m);
  const install = at(/^RUN deno install --frozen/m);
  const copySrc = at(/^COPY .*src\//m);
  assert(copyLock >= 0 && copyLock < install && install < copySrc, "deno.lock → deno install → src/, in that order");
  const user = dockerfile.match(/^USER (\S+)/m)?.[1];
  assert(user && user !== "root" && user !== "0", "runs as a non-root user");
  assert(at(/^USER /m) < install, "dependencies are cached as that user");
  assertMatch(dockerfile, /^HEALTHCHECK [^\n]*\\\n[^\n]*\/healthz/m);
  assertMatch(dockerfile, /^CMD \["deno", "task", "--quiet", "start"\]$/m, "no deno task lines among the JSON logs");
  assertMatch(dockerfile, /^ENV .*\bNO_COLOR=1\b/m);
  assert(at(/^USER /m) < at(/^RUN mkdir \.data$/m), "a volume on DATA_DIR belongs to the api's user");
  // `deno task start` reads the packages from node_modules/ (below): the image installs them there.
  assertMatch(dockerfile, /^RUN deno install --frozen --node-modules-dir=auto$/m);
});

Deno.test("the lockfile covers the server's whole module graph (docker build uses --frozen)", async () => {
  await run(Deno.execPath(), ["cache", "--frozen", mainModule]);
});

Deno.test("Swagger UI's CSS and bundle are in the server's module graph, from one pinned swagger-ui-dist", async () => {
  const graph = JSON.parse(await run(Deno.execPath(), ["info", "--json", mainModule]));
  const files = graph.modules.filter((module: { npmPackage?: string }) =>
    module.npmPackage?.startsWith("swagger-ui-dist@")
  );
  const versions = new Set(files.map((module: { npmPackage: string }) => module.npmPackage));
  assertEquals(versions.size, 1, `one swagger-ui-dist, found ${[...versions]}`);
  const names = files.map((module: { specifier: string }) => module.specifier.split("/").at(-1));
  for (const name of ["swagger-ui.css", "swagger-ui-bundle.js"]) {
    assert(names.includes(name), `${name} is not imported`);
  }
  const imports = JSON.parse(await read("deno.json")).imports;
  assertMatch(imports["swagger-ui-dist/"], /^npm:\/swagger-ui-dist@\d+\.\d+\.\d+\/$/, "an exact version");
});

Deno.test("PGlite is reached only through dynamic imports, so Deno Deploy never loads it", async () => {
  const graph = JSON.parse(await run(Deno.execPath(), ["info", "--json", mainModule]));
  const edges: { specifier: string; isDynamic?: boolean }[] = graph.modules.flatMap(
    (module: { dependencies?: [] }) => module.dependencies ?? [],
  );
  const pglite = edges.filter((edge) => edge.specifier.startsWith("@electric-sql/"));
  assert(pglite.length > 0, "the embedded database is still wired in");
  for (const edge of pglite) assert(edge.isDynamic, `${edge.specifier} is imported statically`);
});

Deno.test("nginx limits bodies, gzips and forwards the request id and client address", () => {
  assertMatch(nginxConf, /^\s*client_max_body_size \S+;/m);
  assertMatch(nginxConf, /^\s*gzip on;/m);
  assertMatch(nginxConf, /^\s*gzip_types [^;]*application\/problem\+json/m);
  assertMatch(nginxConf, /^\s*proxy_set_header X-Request-Id \$\w+;/m);
  assertMatch(nginxConf, /^\s*proxy_set_header X-Forwarded-For \$proxy_add_x_forwarded_for;/m);
  assertMatch(nginxConf, /^\s*error_page 413 /m);
});

Deno.test("nginx limits authenticated writes under /api/v1/ per client address, besides login and registration", () => {
  assertMatch(nginxConf, /^\s*limit_req_zone \$authenticated_writer zone=writes:\S+ rate=\d+r\/s;/m);
  assertMatch(
    nginxConf,
    /map "\$write_method:\$http_authorization" \$authenticated_writer \{\s*"~\^1:\." \$binary_remote_addr;/,
  );
  const methods = nginxConf.match(/map \$request_method \$write_method \{([^}]*)\}/)?.[1] ?? "";
  assertEquals([...methods.matchAll(/(\w+) 1;/g)].map((m) => m[1]), ["POST", "PATCH", "DELETE"]);
  assertMatch(
    nginxConf,
    /location \/api\/v1\/ \{\s*limit_req zone=writes burst=\d+ nodelay;\s*proxy_pass http:\/\/api;/,
  );
  for (const zone of ["login", "registration"]) assertMatch(nginxConf, new RegExp(`limit_req zone=${zone} `));
});

Deno.test("the smoke run has a stand-in for every image of the plain stack and for the api's base", async () => {
  // The api and the webhook worker run the image built from infra/Dockerfile (on the `deno` stand-in).
  for (const name of [...plainStack.filter((name) => !services[name].build), "deno"]) {
    await Deno.stat(new URL(`../infra/smoke/${name}/Dockerfile`, import.meta.url));
  }
  const smoke = await read("infra/compose-smoke.sh");
  assertMatch(smoke, /^trap cleanup EXIT$/m, "it cleans up also when a check fails");
  assertMatch(smoke, / down -v /, "volumes included");
});

Deno.test("nginx accepts infra/nginx.conf with and without the TLS listener (it starts on it)", async () => {
  // Only the compose network resolves "api": the harness points the upstream at a loopback address instead.
  for (const tls of [false, true]) await (await startNginx({ upstreams: ["127.0.0.1:8000"], tls })).stop();
});
