// The production app as src/main.ts builds it, plus one route only the benchmark mounts: constant JSON behind the
// same middleware, the ceiling that the framework puts on any route. Started by bench/service.ts on loopback.
import { apiBase, createApp } from "../src/app.ts";
import { bootstrap, serverDeps } from "../src/bootstrap.ts";
import { startPasswordWorkers } from "../src/auth/passwords.ts";

export const constantPath = `${apiBase}/bench/constant`;

if (import.meta.main) {
  const { config, database } = await bootstrap();
  await startPasswordWorkers({ workers: config.PASSWORD_WORKERS, queueLimit: config.PASSWORD_QUEUE_LIMIT });
  const app = createApp(serverDeps(config, database));
  app.post(constantPath, (c) => c.json({ ok: true }));
  Deno.serve({ port: config.PORT, hostname: "127.0.0.1", onListen: () => {} }, app.fetch);
}
