import ipaddr from "ipaddr.js";
import { isIP } from "node:net";
import type { Resolver } from "../platform/dns.ts";

/** A webhook URL the rules refuse; the message says why, for the `url` field or the attempt's `error`. */
export class TargetRefused extends Error {
  override name = "TargetRefused";
}

/** Only ordinary public unicast: ipaddr.js names every other range (loopback, private, link-local, CGNAT, …). */
export const isPublicAddress = (address: string) => ipaddr.process(address).range() === "unicast";

/** How long a name may take to resolve when a webhook is registered. */
const resolveTimeoutMs = 5_000;

/** `[::1]` → `::1`: URL keeps the brackets of an IPv6 literal. */
export const bareHost = (hostname: string) => hostname.replace(/^\[(.*)\]$/, "$1");

/** Scheme and form, before any address is looked at. */
export function assertUrlForm(url: URL, production: boolean) {
  if (production && url.protocol !== "https:") throw new TargetRefused("must be https:// when APP_ENV=production");
  if (url.username || url.password) throw new TargetRefused("must not carry credentials");
}

/**
 * The addresses to connect to for `hostname` (an IP literal is its own), every one of them public unless
 * `allowPrivate`: one non-public address refuses the host, so a name cannot mix a public address with an internal
 * one. Deliveries connect only to what this returned, so a name that resolves anew (DNS rebinding) is checked anew.
 */
export async function checkedAddresses(hostname: string, resolve: Resolver, allowPrivate: boolean) {
  const host = bareHost(hostname);
  const addresses = isIP(host) ? [host] : await resolveInTime(host, resolve);
  if (addresses.length === 0) throw new TargetRefused(`${host} does not resolve`);
  const internal = allowPrivate ? undefined : addresses.find((address) => !isPublicAddress(address));
  if (internal) {
    throw new TargetRefused(
      internal === host ? `${host} is not a public address` : `${host} resolves to ${internal}, not a public address`,
    );
  }
  return addresses;
}

async function resolveInTime(host: string, resolve: Resolver): Promise<string[]> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TargetRefused(`${host} did not resolve in time`)), resolveTimeoutMs);
  });
  try {
    return await Promise.race([resolve(host), late]);
  } catch (error) {
    throw error instanceof TargetRefused ? error : new TargetRefused(`${host} does not resolve`);
  } finally {
    clearTimeout(timer);
  }
}
