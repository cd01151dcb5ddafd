const day = 24 * 3600 * 1000;

/** UTC midnight `offset` days after a point well past the booking lead time (60 days from now). */
export function futureDay(offset: number): Date {
  const today = Math.floor(Date.now() / day) * day;
  return new Date(today + (60 + offset) * day);
}

export const hours = (from: Date, count: number) => new Date(from.getTime() + count * 3600 * 1000);

export const isoDate = (date: Date) => date.toISOString().slice(0, 10);
