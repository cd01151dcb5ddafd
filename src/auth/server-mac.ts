/** What a MAC is for: each purpose has a key of its own, so one MAC never stands in for another. */
export type MacPurpose = "limiter-key" | "idempotency-fingerprint" | "registration-scope";

const keys = new Map<string, Promise<CryptoKey>>();

/** The HMAC-SHA-256 key of `purpose`, derived from the server's secret with HKDF; derived once per secret. */
function keyFor(secret: string, purpose: MacPurpose): Promise<CryptoKey> {
  const id = `${purpose}\n${secret}`;
  let key = keys.get(id);
  if (!key) {
    key = (async () => {
      const encoder = new TextEncoder();
      const base = await crypto.subtle.importKey("raw", encoder.encode(secret), "HKDF", false, ["deriveKey"]);
      const derivation = { name: "HKDF", hash: "SHA-256", salt: new Uint8Array(), info: encoder.encode(purpose) };
      const hmac = { name: "HMAC", hash: "SHA-256", length: 256 };
      return await crypto.subtle.deriveKey(derivation, base, hmac, false, ["sign"]);
    })();
    keys.set(id, key);
  }
  return key;
}

/**
 * A keyed MAC of `text` under `secret` (JWT_SECRET), as base64url of its first `bytes` bytes. What the service keeps
 * by it (limiter keys, Idempotency-Key fingerprints and scopes) names an email or a request body without revealing
 * it: someone who reads the cache or the table but not the secret cannot test candidates against it.
 */
export async function serverMac(secret: string, purpose: MacPurpose, text: string, bytes = 32): Promise<string> {
  const mac = await crypto.subtle.sign("HMAC", await keyFor(secret, purpose), new TextEncoder().encode(text));
  return new Uint8Array(mac, 0, bytes).toBase64({ alphabet: "base64url", omitPadding: true });
}
