/** The current time; injected so tests can pin "now". */
export type Clock = () => Date;

export const systemClock: Clock = () => new Date();
