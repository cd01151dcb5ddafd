// The real nginx on infra/nginx.conf, rewritten only where a test must: the listen ports, the upstream servers, the
// certificate paths and nginx's own runtime files. Limits, headers and problem documents are the committed ones.
import { cleanUpOnExit, findExecutable, freePort, run } from "./process.ts";
import { selfSignedCertificate } from "./tls.ts";

const infra = new URL("../infra/", import.meta.url);

export type NginxOptions = {
  /** `host:port` of each api instance, in place of compose's `server api:8000;`. */
  upstreams: string[];
  /** Also serve infra/nginx-tls.conf, with a throwaway self-signed certificate for 127.0.0.1. */
  tls?: boolean;
  /** The address of an outer load balancer to trust, as an operator adds it with `set_real_ip_from`. */
  trustedBalancer?: string;
};

export type Nginx = {
  url: string;
  /** With `tls`: the https URL and the certificate (PEM) a client must trust to reach it. */
  https?: { url: string; certificate: string };
  /** The JSON access log. */
  accessLog: string;
  stop(): Promise<void>;
};

/** Starts nginx as a daemon of its own on free loopback ports; `stop()` (or the end of the test file) ends it. */
export async function startNginx(options: NginxOptions): Promise<Nginx> {
  const nginx = findExecutable("nginx", ["/usr/sbin", "/usr/local/sbin"]);
  if (!nginx) throw new Error("nginx not found: apt-get install nginx");
  const dir = await Deno.makeTempDir({ prefix: "exam-slots-nginx-" });
  // Run as root, nginx's workers drop to an unprivileged user, which must reach the temp paths in here.
  await Deno.chmod(dir, 0o755);
  const pid = `${dir}/nginx.pid`;
  const stop = cleanUpOnExit(
    dir,
    // nginx removes its pid file as it exits (its reaped pid could linger as a zombie for a while).
    `kill "$(cat '${pid}')" && while [ -e '${pid}' ]; do sleep 0.02; done; rm -rf '${dir}'`,
  );
  try {
    const http = freePort();
    const https = options.tls ? freePort() : undefined;
    const certificate = https ? (await selfSignedCertificate(dir, ["localhost", "127.0.0.1"])).cert : undefined;
    await Deno.writeTextFile(`${dir}/nginx.conf`, await config(dir, options, http, https));
    await run(nginx, ["-p", dir, "-e", `${dir}/error.log`, "-c", `${dir}/nginx.conf`]);
    return {
      url: `http://127.0.0.1:${http}`,
      https: https && certificate ? { url: `https://127.0.0.1:${https}`, certificate } : undefined,
      accessLog: `${dir}/access.log`,
      stop,
    };
  } catch (error) {
    await stop().catch(() => {});
    throw error;
  }
}

/** infra/nginx.conf with each rewrite applied to a line that must still be there. */
async function config(dir: string, options: NginxOptions, http: number, https: number | undefined) {
  let conf = await Deno.readTextFile(new URL("nginx.conf", infra));
  const rewrite = (from: string, to: string) => {
    if (!conf.includes(from)) throw new Error(`infra/nginx.conf no longer has "${from}": update harness/nginx.ts`);
    conf = conf.replace(from, to);
  };
  rewrite("listen 80;", `listen 127.0.0.1:${http};`);
  rewrite("server api:8000;", options.upstreams.map((address) => `server ${address};`).join(" "));
  rewrite("access_log /dev/stdout json;", `access_log ${dir}/access.log json;`);
  const temp = ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"].map((kind) => `${kind}_temp_path ${dir}/${kind};`);
  rewrite("http {", `http {\n  ${temp.join(" ")}`);
  if (options.trustedBalancer) {
    rewrite(
      "real_ip_header X-Forwarded-For;",
      `real_ip_header X-Forwarded-For; set_real_ip_from ${options.trustedBalancer};`,
    );
  }
  if (https) {
    const tls = (await Deno.readTextFile(new URL("nginx-tls.conf", infra)))
      .replace("listen 443 ssl;", `listen 127.0.0.1:${https} ssl;`)
      .replaceAll("/etc/nginx/certs/", `${dir}/`);
    rewrite("include /etc/nginx/tls/*.conf;", tls);
  }
  return `pid ${dir}/nginx.pid;\n${conf}`;
}
