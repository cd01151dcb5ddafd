// The Standard Webhooks signature: HMAC-SHA256 over "<id>.<timestamp>.<body>" with the secret's decoded bytes.

const secretPrefix = "whsec_";

/** `whsec_` + base64 of 32 random bytes. */
export const newSecret = () => `${secretPrefix}${crypto.getRandomValues(new Uint8Array(32)).toBase64()}`;

/** The `webhook-signature` header of one attempt: `v1,<base64 HMAC-SHA256>`. */
export async function signature(secret: string, id: string, timestamp: number, body: string): Promise<string> {
  const key = await crypto.subtle.importKey(
    "raw",
    Uint8Array.fromBase64(secret.slice(secretPrefix.length)),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const mac = await crypto.subtle.sign("HMAC", key, new TextEncoder().encode(`${id}.${timestamp}.${body}`));
  return `v1,${new Uint8Array(mac).toBase64()}`;
}
