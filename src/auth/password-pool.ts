import { AppError } from "../http/problem.ts";
import type { PasswordJob, PasswordReply } from "./password-worker.ts";

/** A hash refused because too many wait already: retried in a moment, it likely finds a place. */
export const queueFull = () =>
  new AppError("SERVICE_UNAVAILABLE", "Too many password checks are waiting; retry in a moment", {
    headers: { "Retry-After": "1" },
  });

type Job = { job: PasswordJob; settle(reply: PasswordReply): void };

const workerModule = new URL("./password-worker.ts", import.meta.url);
// A cheap job every worker runs once before the pool is used: it proves the module loads, and warms bcrypt's code.
const warmUp: PasswordJob = { op: "hash", password: "warm-up", cost: 4 };

/**
 * bcrypt on worker threads, so hashing never holds up the thread that serves requests. Jobs beyond the workers wait
 * in a queue of at most `queueLimit`; one more is refused at once with 503 and Retry-After (a login storm costs the
 * storm, not everyone else).
 */
export class PasswordPool {
  #idle: Worker[] = [];
  #busy = new Map<Worker, Job>();
  #queue: Job[] = [];
  #closed = false;

  private constructor(size: number, private readonly queueLimit: number) {
    for (let i = 0; i < size; i++) this.#idle.push(this.#spawn());
  }

  /** Starts `size` workers and waits until each has run a job; rejects if they cannot (the module did not load). */
  static async open(size: number, queueLimit: number): Promise<PasswordPool> {
    const pool = new PasswordPool(size, queueLimit);
    try {
      await Promise.all(Array.from({ length: size }, () => pool.#run(warmUp)));
    } catch (error) {
      pool.close();
      throw error;
    }
    return pool;
  }

  /** Jobs waiting for a free worker (running ones not counted). */
  get queueLength(): number {
    return this.#queue.length;
  }

  hash(password: string, cost: number): Promise<string> {
    return this.#run({ op: "hash", password, cost }) as Promise<string>;
  }

  compare(password: string, hash: string): Promise<boolean> {
    return this.#run({ op: "compare", password, hash }) as Promise<boolean>;
  }

  /** Stops every worker; whatever is still waiting or running fails. */
  close() {
    this.#closed = true;
    const stopped: PasswordReply = { ok: false, message: "the password pool is closed" };
    for (const worker of [...this.#idle, ...this.#busy.keys()]) worker.terminate();
    for (const job of [...this.#busy.values(), ...this.#queue]) job.settle(stopped);
    this.#idle = [];
    this.#busy.clear();
    this.#queue = [];
  }

  #run(job: PasswordJob): Promise<string | boolean> {
    return new Promise((resolve, reject) => {
      if (this.#closed) return reject(new Error("the password pool is closed"));
      if (this.#idle.length === 0 && this.#queue.length >= this.queueLimit) return reject(queueFull());
      this.#queue.push({ job, settle: (reply) => reply.ok ? resolve(reply.value) : reject(new Error(reply.message)) });
      this.#dispatch();
    });
  }

  #dispatch() {
    while (this.#idle.length > 0 && this.#queue.length > 0) {
      const worker = this.#idle.pop()!;
      const job = this.#queue.shift()!;
      this.#busy.set(worker, job);
      worker.postMessage(job.job);
    }
  }

  #spawn(): Worker {
    const worker = new Worker(workerModule, { type: "module" });
    worker.onmessage = (event: MessageEvent<PasswordReply>) => {
      const job = this.#busy.get(worker);
      this.#busy.delete(worker);
      this.#idle.push(worker);
      job?.settle(event.data);
      this.#dispatch();
    };
    // Only an uncaught error reaches here (bcrypt's own errors are replies): replace the worker, fail its job.
    worker.onerror = (event) => {
      event.preventDefault();
      const job = this.#busy.get(worker);
      this.#busy.delete(worker);
      this.#idle = this.#idle.filter((w) => w !== worker);
      worker.terminate();
      job?.settle({ ok: false, message: `password worker failed: ${event.message}` });
      if (this.#closed) return;
      this.#idle.push(this.#spawn());
      this.#dispatch();
    };
    return worker;
  }
}
