import { findExecutable, run } from "./process.ts";
import { isIP } from "node:net";

/**
 * A self-signed certificate for `names` (host names or IP addresses), valid for a day, written as tls.crt and tls.key
 * in `dir`; the PEM texts.
 */
export async function selfSignedCertificate(dir: string, names: string[]): Promise<{ cert: string; key: string }> {
  const openssl = findExecutable("openssl");
  if (!openssl) throw new Error("openssl not found: apt-get install openssl");
  const altNames = names.map((name) => `${isIP(name) ? "IP" : "DNS"}:${name}`).join(",");
  await run(openssl, [
    ...["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1"],
    ...["-subj", `/CN=${names[0]}`, "-addext", `subjectAltName=${altNames}`],
    ...["-addext", "basicConstraints=critical,CA:FALSE", "-keyout", `${dir}/tls.key`, "-out", `${dir}/tls.crt`],
  ]);
  return { cert: await Deno.readTextFile(`${dir}/tls.crt`), key: await Deno.readTextFile(`${dir}/tls.key`) };
}
