import bcrypt from "bcryptjs";
import { PasswordPool } from "./password-pool.ts";

type Hasher = {
  hash(password: string, cost: number): Promise<string>;
  compare(password: string, hash: string): Promise<boolean>;
};

const inThread: Hasher = { hash: (password, cost) => bcrypt.hash(password, cost), compare: bcrypt.compare };

let pool: PasswordPool | undefined;
let hasher: Hasher = inThread;

export const hashPassword = (password: string, cost: number): Promise<string> => hasher.hash(password, cost);

const decoys = new Map<number, Promise<string>>();

function decoyHash(cost: number): Promise<string> {
  let decoy = decoys.get(cost);
  if (!decoy) {
    decoy = hashPassword(crypto.randomUUID(), cost);
    decoys.set(cost, decoy);
    decoy.catch(() => decoys.delete(cost)); // a refused or failed decoy is made again next time
  }
  return decoy;
}

/**
 * Checks a password against a stored hash. With no hash (unknown email) it still runs one bcrypt
 * comparison at the same cost, so a wrong email and a wrong password take about the same time.
 */
export async function verifyPassword(password: string, hash: string | undefined, cost: number): Promise<boolean> {
  if (hash) return await hasher.compare(password, hash);
  await hasher.compare(password, await decoyHash(cost));
  return false;
}

/**
 * Moves hashing off the request thread onto `workers` threads, with at most `queueLimit` hashes waiting (more → 503).
 * Where there are no Web Workers (Deno Deploy), with `workers` 0, or if the workers cannot start, hashing stays on
 * this thread as bcryptjs's async functions, which only yield between rounds. Says which it chose.
 */
export async function startPasswordWorkers(
  { workers, queueLimit }: { workers: number; queueLimit: number },
): Promise<string> {
  stopPasswordWorkers();
  if (workers === 0) return "in-thread (PASSWORD_WORKERS=0)";
  if (typeof Worker === "undefined") return "in-thread (this runtime has no Web Workers)";
  try {
    hasher = pool = await PasswordPool.open(workers, queueLimit);
  } catch (error) {
    return `in-thread (the workers did not start: ${(error as Error).message})`;
  }
  return `worker threads: ${workers}, queue limit: ${queueLimit}`;
}

/** Back to hashing on this thread; stops the workers, so the process (or a test) leaves nothing running. */
export function stopPasswordWorkers() {
  pool?.close();
  pool = undefined;
  hasher = inThread;
}

/** Hashes waiting for a free worker: 0 when hashing runs on this thread. */
export const passwordQueueLength = (): number => pool?.queueLength ?? 0;

/** True when a stored hash was made at another cost than the current one. */
export const needsRehash = (hash: string, cost: number): boolean => bcrypt.getRounds(hash) !== cost;
