import { lookup } from "node:dns/promises";

/** Every address a host name resolves to. */
export type Resolver = (hostname: string) => Promise<string[]>;

/** The system's resolver (getaddrinfo: /etc/hosts, then DNS), as a connection by name would use it. */
export const systemResolver: Resolver = async (hostname) =>
  (await lookup(hostname, { all: true, verbatim: true })).map((found) => found.address);
