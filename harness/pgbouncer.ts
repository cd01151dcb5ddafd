import { cleanUpOnExit, delay, findExecutable, freePort, isRoot, run } from "./process.ts";

export type PgBouncer = {
  port: number;
  /** `databaseUrl` (a database of the cluster behind it) reached through the pooler. */
  url(databaseUrl: string): string;
  /** PgBouncer's own log: its warnings name what it dropped or refused. */
  log(): Promise<string>;
  stop(): Promise<void>;
};

export type PgBouncerOptions = {
  /** Clients must speak TLS (a self-signed certificate for localhost and 127.0.0.1, made with openssl). */
  tls?: boolean;
  /** Clients must give this password (md5); without one, trust as the cluster. */
  password?: string;
};

/**
 * Debian's PgBouncer (1.18: no prepared-statement support) on a free loopback port in front of the PostgreSQL on
 * `postgresPort`, as a managed pooler runs: transaction pooling, the default `ignore_startup_parameters` (none),
 * trust authentication like the test cluster (or a password). As root it runs as the postgres OS user (it refuses
 * root).
 */
export async function startPgBouncer(postgresPort: number, options: PgBouncerOptions = {}): Promise<PgBouncer> {
  const binary = findExecutable("pgbouncer", ["/usr/sbin"]);
  if (!binary) throw new Error("pgbouncer not found in /usr/sbin or PATH: apt-get install pgbouncer");
  const dir = await Deno.makeTempDir({ prefix: "exam-slots-pgbouncer-" });
  const port = freePort();
  const tls = options.tls ? await certificate(dir) : [];
  await Deno.writeTextFile(`${dir}/users.txt`, `"postgres" "${options.password ?? ""}"\n`);
  await Deno.writeTextFile(
    `${dir}/pgbouncer.ini`,
    [
      "[databases]",
      `* = host=127.0.0.1 port=${postgresPort}`,
      "[pgbouncer]",
      "listen_addr = 127.0.0.1",
      `listen_port = ${port}`,
      "unix_socket_dir =",
      `auth_type = ${options.password ? "md5" : "trust"}`,
      `auth_file = ${dir}/users.txt`,
      "pool_mode = transaction",
      // Fewer server connections per database than a test's pool has clients: each serves several in turn.
      "default_pool_size = 10",
      "max_client_conn = 400",
      `logfile = ${dir}/pgbouncer.log`,
      `pidfile = ${dir}/pgbouncer.pid`,
      ...tls,
    ].join("\n"),
  );
  if (isRoot) await run("chown", ["-R", "postgres:", dir]);
  const stop = cleanUpOnExit(dir, `kill $(cat '${dir}/pgbouncer.pid' 2>/dev/null) 2>/dev/null; rm -rf '${dir}'`);
  const log = () => Deno.readTextFile(`${dir}/pgbouncer.log`).catch(() => "");
  try {
    // Daemonized so it is not a child of the test process (no resource for the test sanitizers to see).
    await run(binary, [...(isRoot ? ["-u", "postgres"] : []), "--daemon", "--quiet", `${dir}/pgbouncer.ini`]);
    await listening(port);
  } catch (error) {
    const text = await log();
    await stop().catch(() => {});
    throw new Error(`${(error as Error).message}\n${text}`);
  }
  return {
    port,
    url(databaseUrl) {
      const url = new URL(databaseUrl);
      url.port = String(port);
      return url.href;
    },
    log,
    stop,
  };
}

/** Waits until `port` takes connections, or fails after 10 s. */
async function listening(port: number) {
  for (const deadline = Date.now() + 10_000; Date.now() < deadline; await delay(50)) {
    try {
      (await Deno.connect({ hostname: "127.0.0.1", port })).close();
      return;
    } catch { /* not yet */ }
  }
  throw new Error(`pgbouncer did not listen on ${port} within 10 s`);
}

/** A self-signed certificate for the client side of the pooler; its settings lines. */
async function certificate(dir: string): Promise<string[]> {
  await run("openssl", [
    ...["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=localhost"],
    ...["-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
    ...["-keyout", `${dir}/server.key`, "-out", `${dir}/server.crt`],
  ]);
  return [
    "client_tls_sslmode = require",
    `client_tls_key_file = ${dir}/server.key`,
    `client_tls_cert_file = ${dir}/server.crt`,
  ];
}
