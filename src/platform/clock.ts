/** The current time; injected so tests can pin "now". */
export type Clock = () => Date;

export const systemClock: Clock = () => new Date();

export const minuteMs = 60_000;
export const dayMs = 24 * 60 * minuteMs;
