/** Runs the tasks on `clients` concurrent workers, each taking the next task when its last one is done. */
export async function inParallel<T>(clients: number, tasks: (() => Promise<T>)[]): Promise<T[]> {
  const results: T[] = new Array(tasks.length);
  let next = 0;
  const worker = async () => {
    while (next < tasks.length) {
      const index = next++;
      results[index] = await tasks[index]();
    }
  };
  await Promise.all(Array.from({ length: clients }, worker));
  return results;
}
