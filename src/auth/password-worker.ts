/// <reference no-default-lib="true" />
/// <reference lib="deno.worker" />
// One thread of the password pool (password-pool.ts): bcrypt, synchronously, one job at a time.
import bcrypt from "bcryptjs";

export type PasswordJob =
  | { op: "hash"; password: string; cost: number }
  | { op: "compare"; password: string; hash: string };

export type PasswordReply = { ok: true; value: string | boolean } | { ok: false; message: string };

function run(job: PasswordJob): string | boolean {
  return job.op === "hash" ? bcrypt.hashSync(job.password, job.cost) : bcrypt.compareSync(job.password, job.hash);
}

self.onmessage = (event: MessageEvent<PasswordJob>) => {
  let reply: PasswordReply;
  try {
    reply = { ok: true, value: run(event.data) };
  } catch (error) {
    reply = { ok: false, message: (error as Error).message };
  }
  self.postMessage(reply);
};
