import { defineConfig } from "vitest/config";

// One test run for the whole workspace. Tests import built packages (`npm test` builds first).
// The server's tests run twice: on SQLite (the default database) and on PostgreSQL (SEALPOST_TEST_DB=postgres;
// one throwaway cluster per run, started by the globalSetup, a database per test file).
export default defineConfig({
  test: {
    pool: "forks",
    testTimeout: 120_000,
    hookTimeout: 120_000,
    reporters: ["default"],
    projects: [
      {
        extends: true,
        test: {
          name: "sqlite",
          include: [
            "tests/**/*.test.ts",
            "packages/*/test/**/*.test.ts",
            "cli/test/**/*.test.ts",
            "server/test/**/*.test.ts",
          ],
          env: { SEALPOST_TEST_DB: "sqlite" },
        },
      },
      {
        extends: true,
        test: {
          name: "postgres",
          include: ["server/test/**/*.test.ts"],
          env: { SEALPOST_TEST_DB: "postgres" },
          globalSetup: ["server/test/helpers/pg-global-setup.ts"],
        },
      },
    ],
  },
});
