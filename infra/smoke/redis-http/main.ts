// Stand-in for hiett/serverless-redis-http: the project's own Upstash REST proxy (harness/upstash-proxy.ts), configured
// as that image is in infra/docker-compose.yaml: SRH_MODE=env, SRH_TOKEN, SRH_CONNECTION_STRING=redis://host:port,
// listening on port 80 (SRH_PORT) of every address.
import { startUpstashProxy } from "../../../harness/upstash-proxy.ts";

const env = (name: string, fallback?: string) => {
  const value = Deno.env.get(name) ?? fallback;
  if (!value) throw new Error(`${name} is required`);
  return value;
};

if (env("SRH_MODE", "file") !== "env") throw new Error("only SRH_MODE=env is supported");
const redis = new URL(env("SRH_CONNECTION_STRING"));
if (redis.protocol !== "redis:" || redis.username || redis.password) {
  throw new Error("SRH_CONNECTION_STRING must be redis://host:port, without credentials");
}
const port = Number(env("SRH_PORT", "80"));
await startUpstashProxy(Number(redis.port || 6379), {
  redisHost: redis.hostname,
  token: env("SRH_TOKEN"),
  hostname: "0.0.0.0",
  port,
});
console.log(`Upstash REST on port ${port}, in front of ${redis.host}`);
