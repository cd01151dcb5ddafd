import { bootstrap, serverDeps } from "../bootstrap.ts";
import { startDeliveryWorker } from "../webhooks/worker.ts";

// A process that only delivers webhooks (docs/webhooks.md), beside API processes run with WEBHOOK_WORKER=false.
// The embedded database belongs to the one process that opened it, so this needs the shared PostgreSQL.
if (!Deno.env.get("DATABASE_URL")) {
  console.error("deno task deliver needs DATABASE_URL: the embedded database cannot be shared with the API");
  Deno.exit(2);
}
const { config, database } = await bootstrap();
const deps = serverDeps(config, database);
const worker = startDeliveryWorker(deps);
deps.logger.info({ message: "delivering webhooks", concurrency: config.WEBHOOK_CONCURRENCY });

async function shutdown(signal: string) {
  deps.logger.info({ message: "shutting down", signal });
  await worker.stop();
  await database.close();
  deps.logger.flush();
  Deno.exit(0);
}
for (const signal of ["SIGTERM", "SIGINT"] as const) Deno.addSignalListener(signal, () => shutdown(signal));
