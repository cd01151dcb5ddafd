import { assert, assertEquals, assertMatch } from "./support/assert.ts";
import { ConfigError, loadConfig } from "../src/config.ts";
import { StartupError } from "../src/platform/startup.ts";

const quiet = () => {};

function refusal(env: Record<string, string>): string {
  try {
    loadConfig(env, quiet);
  } catch (error) {
    assert(error instanceof ConfigError);
    return error.message;
  }
  throw new Error("the configuration was accepted");
}

Deno.test("the defaults match the contract", () => {
  const config = loadConfig({}, quiet);
  assertEquals(config.PORT, 8000);
  assertEquals(config.ACCESS_TTL, 900);
  assertEquals(config.REFRESH_TTL, 7 * 24 * 3600);
  assertEquals(config.SESSION_MAX_AGE, 30 * 24 * 3600);
  assertEquals(config.LOGIN_ADDRESS_LIMIT, 100);
  assertEquals(config.MAX_CONCURRENT_EXAMINEES, 50_000);
  assertEquals(config.BOOKING_LEAD_DAYS, 3);
  assertEquals(config.SLOT_MINUTES, 60);
  assertEquals(config.DATA_DIR, ".data");
  assertEquals(config.DOCS_ENABLED, true);
  assertEquals(config.WRITE_LIMIT, 120);
  assertEquals(config.IDEMPOTENCY_KEYS_PER_USER, 1000);
  assertEquals(config.MAX_EVENTS_PER_RESERVATION, 1000);
  assertEquals(config.PASSWORD_HASHES_PER_ADDRESS, 8);
});

Deno.test("JWT_SECRET_PREVIOUS needs JWT_SECRET_ROTATED_AT, the instant after which its tokens are refused", () => {
  const secrets = { JWT_SECRET: "x".repeat(32), JWT_SECRET_PREVIOUS: "y".repeat(32) };
  assertMatch(refusal(secrets), /JWT_SECRET_ROTATED_AT is required/);
  assertMatch(refusal({ ...secrets, JWT_SECRET_ROTATED_AT: "yesterday" }), /JWT_SECRET_ROTATED_AT/);
  const rotated = loadConfig({ ...secrets, JWT_SECRET_ROTATED_AT: "2027-04-01T12:00:00+02:00" }, quiet);
  assertEquals(rotated.JWT_SECRET_ROTATED_AT?.toISOString(), "2027-04-01T10:00:00.000Z");
});

Deno.test("a reservation's history has room for its creation and its deletion at the least", () => {
  assertMatch(refusal({ MAX_EVENTS_PER_RESERVATION: "1" }), /MAX_EVENTS_PER_RESERVATION/);
});

Deno.test("without JWT_SECRET development gets a random secret and a warning", () => {
  const warnings: string[] = [];
  const first = loadConfig({}, (w) => warnings.push(w));
  const second = loadConfig({}, quiet);
  assert(first.JWT_SECRET.length >= 32);
  assert(first.JWT_SECRET !== second.JWT_SECRET);
  assertEquals(warnings.length, 1);
});

Deno.test("production refuses to start without JWT_SECRET", () => {
  assertMatch(refusal({ APP_ENV: "production" }), /JWT_SECRET is required/);
});

Deno.test("production hides the docs unless DOCS_ENABLED=true", () => {
  const secret = "x".repeat(32);
  assertEquals(loadConfig({ APP_ENV: "production", JWT_SECRET: secret }).DOCS_ENABLED, false);
  assertEquals(loadConfig({ APP_ENV: "production", JWT_SECRET: secret, DOCS_ENABLED: "true" }).DOCS_ENABLED, true);
});

Deno.test("every invalid variable is named in one line", () => {
  const message = refusal({ PORT: "eighty", SLOT_MINUTES: "7", BCRYPT_COST: "99" });
  assert(!message.includes("\n"));
  for (const name of ["PORT", "SLOT_MINUTES", "BCRYPT_COST"]) assertMatch(message, new RegExp(name));
});

Deno.test("SLOT_MINUTES must divide a day", () => {
  assertMatch(refusal({ SLOT_MINUTES: "50" }), /SLOT_MINUTES="50": must divide 1440/);
  assertEquals(loadConfig({ SLOT_MINUTES: "30" }, quiet).SLOT_MINUTES, 30);
});

Deno.test("an Upstash URL needs its token", () => {
  assertMatch(refusal({ UPSTASH_REDIS_REST_URL: "https://example.upstash.io" }), /UPSTASH_REDIS_REST_TOKEN/);
});

Deno.test("on Deno Deploy a database URL and Upstash are required", () => {
  assertMatch(refusal({ DENO_DEPLOYMENT_ID: "abc", JWT_SECRET: "x".repeat(32) }), /DATABASE_URL/);
});

Deno.test("a bad value is echoed with what it must be, and where to fix it", () => {
  const message = refusal({ BCRYPT_COST: "abc", APP_ENV: "prod", TRUST_PROXY: "yes", PORT: "80.5" });
  for (
    const expected of [
      'BCRYPT_COST="abc": must be a number',
      'APP_ENV="prod": must be one of development, test, production',
      'TRUST_PROXY="yes": must be one of',
      'PORT="80.5": must be a whole number',
    ]
  ) assert(message.includes(expected), `${expected} in ${message}`);
  assertMatch(message, / — fix them in the environment or in \.env \(\.env\.sample describes every variable\)$/);
});

Deno.test("a secret's value never appears in a refusal, nor DATABASE_URL's credentials", () => {
  const secrets = {
    JWT_SECRET: "short-jwt-secret",
    JWT_SECRET_PREVIOUS: "short-old-secret",
    ADMIN_PASSWORD: "é".repeat(40),
    DATABASE_URL: "postgres//exam:p@ss:word@db.internal/exam",
  };
  const message = refusal(secrets);
  for (const name of Object.keys(secrets)) assertMatch(message, new RegExp(name));
  for (const value of ["short-jwt-secret", "short-old-secret", "é", "p@ss", "word"]) {
    assert(!message.includes(value), `${value} leaked: ${message}`);
  }
  assert(message.includes('DATABASE_URL="postgres//***@db.internal/exam"'), message);
});

Deno.test("ADMIN_EMAIL and ADMIN_PASSWORD come as a pair", () => {
  assertMatch(
    refusal({ ADMIN_EMAIL: "boss@example.test" }),
    /^invalid configuration: ADMIN_EMAIL="boss@example.test" is set without ADMIN_PASSWORD: set both .* or neither$/,
  );
  assertMatch(refusal({ ADMIN_PASSWORD: "boss-password-1" }), /ADMIN_PASSWORD is set without ADMIN_EMAIL/);
  const both = loadConfig({ ADMIN_EMAIL: "boss@example.test", ADMIN_PASSWORD: "boss-password-1" }, quiet);
  assertEquals([both.ADMIN_EMAIL, both.ADMIN_PASSWORD], ["boss@example.test", "boss-password-1"]);
});

Deno.test("a refusal is a StartupError, which start-up prints as its one line", () => {
  try {
    loadConfig({ PORT: "x" }, quiet);
  } catch (error) {
    assert(error instanceof StartupError);
    return;
  }
  throw new Error("accepted");
});
