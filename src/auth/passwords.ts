import bcrypt from "bcryptjs";

export const hashPassword = (password: string, cost: number): Promise<string> => bcrypt.hash(password, cost);

const decoys = new Map<number, Promise<string>>();

/**
 * Checks a password against a stored hash. With no hash (unknown email) it still runs one bcrypt
 * comparison at the same cost, so a wrong email and a wrong password take about the same time.
 */
export async function verifyPassword(password: string, hash: string | undefined, cost: number): Promise<boolean> {
  if (hash) return await bcrypt.compare(password, hash);
  if (!decoys.has(cost)) decoys.set(cost, hashPassword(crypto.randomUUID(), cost));
  await bcrypt.compare(password, await decoys.get(cost)!);
  return false;
}

/** True when a stored hash was made at another cost than the current one. */
export const needsRehash = (hash: string, cost: number): boolean => bcrypt.getRounds(hash) !== cost;
