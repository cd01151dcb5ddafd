import type { Tx } from "../platform/db.ts";

/** Gives back the confirmed capacity held by a user's reservations (placeholder until reservations land). */
export async function releaseUserCapacity(_tx: Tx, _userId: number): Promise<void> {}
