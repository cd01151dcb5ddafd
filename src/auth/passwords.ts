import bcrypt from "bcryptjs";
import { PasswordPool, queueFull } from "./password-pool.ts";

type Hasher = {
  hash(password: string, cost: number): Promise<string>;
  compare(password: string, hash: string): Promise<boolean>;
  readonly queueLength: number;
};

/**
 * bcryptjs's async functions on this thread, one hash at a time (on one thread, more at once would only make each
 * slower), with at most `queueLimit` waiting, as on the workers: one more is refused with 503.
 */
class InThreadHasher implements Hasher {
  #busy = false;
  readonly #queue: (() => void)[] = [];

  constructor(private readonly queueLimit: number) {}

  get queueLength(): number {
    return this.#queue.length;
  }

  hash(password: string, cost: number): Promise<string> {
    return this.#run(() => bcrypt.hash(password, cost));
  }

  compare(password: string, hash: string): Promise<boolean> {
    return this.#run(() => bcrypt.compare(password, hash));
  }

  async #run<T>(job: () => Promise<T>): Promise<T> {
    if (this.#busy) {
      if (this.#queue.length >= this.queueLimit) throw queueFull();
      await new Promise<void>((resolve) => this.#queue.push(resolve));
    }
    this.#busy = true;
    try {
      return await job();
    } finally {
      // The next job takes this one's turn; with none waiting, the thread is free.
      const next = this.#queue.shift();
      if (next) next();
      else this.#busy = false;
    }
  }
}

/** PASSWORD_QUEUE_LIMIT's default, for hashing before `startPasswordWorkers` is called (tests, tasks). */
const defaultQueueLimit = 64;

let pool: PasswordPool | undefined;
let hasher: Hasher = new InThreadHasher(defaultQueueLimit);

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
 * this thread as bcryptjs's async functions, which only yield between rounds, under the same queue limit. Says
 * which it chose.
 */
export async function startPasswordWorkers(
  { workers, queueLimit }: { workers: number; queueLimit: number },
): Promise<string> {
  stopPasswordWorkers(queueLimit);
  const inThread = `in-thread, queue limit: ${queueLimit}`;
  if (workers === 0) return `${inThread} (PASSWORD_WORKERS=0)`;
  if (typeof Worker === "undefined") return `${inThread} (this runtime has no Web Workers)`;
  try {
    hasher = pool = await PasswordPool.open(workers, queueLimit);
  } catch (error) {
    return `${inThread} (the workers did not start: ${(error as Error).message})`;
  }
  return `worker threads: ${workers}, queue limit: ${queueLimit}`;
}

/** Back to hashing on this thread; stops the workers, so the process (or a test) leaves nothing running. */
export function stopPasswordWorkers(queueLimit = defaultQueueLimit) {
  pool?.close();
  pool = undefined;
  hasher = new InThreadHasher(queueLimit);
}

/** Hashes waiting for a free worker, or for their turn on this thread. */
export const passwordQueueLength = (): number => hasher.queueLength;

/** True when a stored hash was made at another cost than the current one. */
export const needsRehash = (hash: string, cost: number): boolean => bcrypt.getRounds(hash) !== cost;
