import { z } from "@hono/zod-openapi";
import { fitsBcrypt } from "./platform/bcrypt-limit.ts";
import { defaultDataDir } from "./platform/data-dir.ts";
import { StartupError } from "./platform/startup.ts";

const flag = z.enum(["true", "false", "1", "0"]).transform((v) => v === "true" || v === "1");
const positiveInt = z.coerce.number().int().positive();

const schema = z.object({
  PORT: z.coerce.number().int().min(0).max(65535).default(8000),
  APP_ENV: z.enum(["development", "test", "production"]).default("development"),
  DATABASE_URL: z.string().url().optional(),
  DATA_DIR: z.string().min(1).default(defaultDataDir),
  UPSTASH_REDIS_REST_URL: z.string().url().optional(),
  UPSTASH_REDIS_REST_TOKEN: z.string().min(1).optional(),
  JWT_SECRET: z.string().min(32, "must be at least 32 characters").optional(),
  JWT_SECRET_PREVIOUS: z.string().min(32, "must be at least 32 characters").optional(),
  JWT_SECRET_ROTATED_AT: z.iso.datetime({ offset: true }).transform((text) => new Date(text)).optional(),
  JWT_ISSUER: z.string().min(1).default("exam-slots"),
  JWT_AUDIENCE: z.string().min(1).default("exam-slots-api"),
  ACCESS_TTL: positiveInt.default(900),
  REFRESH_TTL: positiveInt.default(7 * 24 * 3600),
  SESSION_MAX_AGE: positiveInt.default(30 * 24 * 3600),
  BCRYPT_COST: z.coerce.number().int().min(4).max(15).default(10),
  ADMIN_EMAIL: z.string().email().optional(),
  ADMIN_PASSWORD: z.string().min(8).refine(fitsBcrypt, "must be at most 72 bytes (bcrypt's limit)").optional(),
  DOCS_ENABLED: flag.optional(),
  CORS_ORIGINS: z.string().default(""),
  MAX_BODY_BYTES: positiveInt.default(1024 * 1024),
  REGISTER_LIMIT: positiveInt.default(20),
  LOGIN_LIMIT: positiveInt.default(10),
  LOGIN_ADDRESS_LIMIT: positiveInt.default(100),
  WRITE_LIMIT: positiveInt.default(120),
  IDEMPOTENCY_KEYS_PER_USER: positiveInt.default(1000),
  TRUST_PROXY: flag.default(false),
  DB_POOL_MAX: positiveInt.default(10),
  PASSWORD_WORKERS: z.coerce.number().int().min(0).max(256).default(() => navigator.hardwareConcurrency),
  PASSWORD_QUEUE_LIMIT: positiveInt.default(64),
  PASSWORD_HASHES_PER_ADDRESS: positiveInt.default(8),
  // 0: the service sets no statement timeout (the server's or the role's own applies).
  DB_STATEMENT_TIMEOUT_MS: z.coerce.number().int().min(0).default(5000),
  DB_POOLER: z.enum(["auto", "transaction", "none"]).default("auto"),
  MAX_CONCURRENT_EXAMINEES: positiveInt.default(50_000),
  MAX_PENDING_PER_USER: positiveInt.default(50),
  // Room for a reservation's creation and its deletion at the least.
  MAX_EVENTS_PER_RESERVATION: z.coerce.number().int().min(2).default(1000),
  BOOKING_LEAD_DAYS: z.coerce.number().int().min(0).default(3),
  SLOT_MINUTES: positiveInt.default(60).refine((m) => 1440 % m === 0, "must divide 1440"),
  DENO_DEPLOYMENT_ID: z.string().optional(),
  WEBHOOK_ALLOW_PRIVATE: flag.default(false),
  WEBHOOK_WORKER: flag.default(true),
  WEBHOOK_TIMEOUT_MS: positiveInt.default(10_000),
  WEBHOOK_CONCURRENCY: positiveInt.max(100).default(8),
  WEBHOOK_POLL_MS: positiveInt.default(1000),
  WEBHOOK_RETRY_SCALE: z.coerce.number().positive().max(1).default(1),
  WEBHOOK_ATTEMPTS_KEPT: positiveInt.default(1000),
});

type RawConfig = z.infer<typeof schema>;

export type Config = Omit<RawConfig, "JWT_SECRET" | "DOCS_ENABLED" | "CORS_ORIGINS"> & {
  JWT_SECRET: string;
  DOCS_ENABLED: boolean;
  CORS_ORIGINS: string[];
};

/** A configuration problem, reported at start-up as one line. */
export class ConfigError extends StartupError {
  constructor(problem: string) {
    super(`invalid configuration: ${problem}`);
  }
}

/** Variables whose values never appear in a message. */
const isSecret = (name: string) => /^JWT_SECRET|_PASSWORD$|_TOKEN$/.test(name);

/** `NAME="value"` as a message may show it: a secret by its name alone, a URL without its credentials. */
function shown(name: string, value: string | undefined): string {
  if (value === undefined || isSecret(name)) return name;
  const safe = name.endsWith("_URL") ? value.replace(/^(.*?\/\/)?.*@/, (_, scheme = "") => `${scheme}***@`) : value;
  return `${name}=${JSON.stringify(safe)}`;
}

/** What a value of a zod type or format is called in a message. */
const kinds: Record<string, string> = {
  number: "a number",
  int: "a whole number",
  url: "a URL",
  email: "an email address",
};
const mustBe = (kind: string) => kind in kinds ? `must be ${kinds[kind]}` : undefined;

/** zod's issues in the words of an environment variable (its value is a string); others keep zod's message. */
function explain(issue: z.core.$ZodRawIssue): string | undefined {
  const unit = issue.origin === "string" ? " characters" : "";
  switch (issue.code) {
    case "invalid_type":
      return mustBe(issue.expected);
    case "invalid_format":
      return mustBe(issue.format);
    case "too_small":
      return `must be ${issue.inclusive ? "at least" : "more than"} ${issue.minimum}${unit}`;
    case "too_big":
      return `must be ${issue.inclusive ? "at most" : "less than"} ${issue.maximum}${unit}`;
    case "invalid_value":
      return `must be one of ${issue.values.join(", ")}`;
  }
}

const fix = (count: number) =>
  ` — fix ${count === 1 ? "it" : "them"} in the environment or in .env (.env.sample describes every variable)`;

/** Parses the environment once; throws ConfigError naming every bad variable, with its value unless a secret. */
export function loadConfig(
  env: Record<string, string | undefined> = Deno.env.toObject(),
  warn: (message: string) => void = console.warn,
): Config {
  const blankless = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== ""));
  const parsed = schema.safeParse(blankless, { error: explain });
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => {
      const name = issue.path.join(".");
      return `${shown(name, blankless[name])}: ${issue.message}`;
    });
    throw new ConfigError(problems.join("; ") + fix(problems.length));
  }
  const raw = parsed.data;
  if (raw.DENO_DEPLOYMENT_ID && (!raw.DATABASE_URL || !raw.UPSTASH_REDIS_REST_URL)) {
    throw new ConfigError(
      "Deno Deploy has no writable disk, so DATABASE_URL and UPSTASH_REDIS_REST_URL/TOKEN are required",
    );
  }
  if (raw.JWT_SECRET_PREVIOUS && !raw.JWT_SECRET_ROTATED_AT) {
    throw new ConfigError(
      "invalid configuration: JWT_SECRET_ROTATED_AT is required with JWT_SECRET_PREVIOUS (when JWT_SECRET replaced it)",
    );
  }
  if (raw.UPSTASH_REDIS_REST_URL && !raw.UPSTASH_REDIS_REST_TOKEN) {
    throw new ConfigError("UPSTASH_REDIS_REST_TOKEN is required with UPSTASH_REDIS_REST_URL");
  }
  if (!raw.ADMIN_EMAIL !== !raw.ADMIN_PASSWORD) {
    const [set, unset] = raw.ADMIN_EMAIL ? ["ADMIN_EMAIL", "ADMIN_PASSWORD"] : ["ADMIN_PASSWORD", "ADMIN_EMAIL"];
    throw new ConfigError(
      `${shown(set, blankless[set])} is set without ${unset}: set both to have that admin made at start-up, or neither`,
    );
  }
  const production = raw.APP_ENV === "production";
  if (!raw.JWT_SECRET && production) {
    throw new ConfigError(
      "JWT_SECRET is required when APP_ENV=production: set it to 32 or more random characters (openssl rand -hex 32)",
    );
  }
  if (!raw.JWT_SECRET) {
    warn("JWT_SECRET is not set: using a random one, so tokens die with this process");
  }
  return {
    ...raw,
    JWT_SECRET: raw.JWT_SECRET ?? randomSecret(),
    DOCS_ENABLED: raw.DOCS_ENABLED ?? !production,
    CORS_ORIGINS: raw.CORS_ORIGINS.split(",").map((o) => o.trim()).filter(Boolean),
  };
}

function randomSecret(): string {
  const bytes = crypto.getRandomValues(new Uint8Array(32));
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
