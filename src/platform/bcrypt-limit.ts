export const byteLength = (text: string) => new TextEncoder().encode(text).length;

/** bcrypt reads no further than 72 bytes: a longer password would be accepted on its first 72 alone. */
export const fitsBcrypt = (password: string) => byteLength(password) <= 72;
