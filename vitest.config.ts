import { configDefaults, defineConfig } from "vitest/config";

// Tests that assert a time or latency bound run alone, after the rest of the suite, one file at a time: the
// machine has 2 cores and the other test files would otherwise compete with them for the CPU.
const timing = ["packages/cms/test/parse-bounds.test.ts", "server/test/upload-bounds.test.ts"];

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
          exclude: [...configDefaults.exclude, ...timing],
          env: { SEALPOST_TEST_DB: "sqlite" },
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: "postgres",
          include: ["server/test/**/*.test.ts"],
          exclude: [...configDefaults.exclude, ...timing],
          env: { SEALPOST_TEST_DB: "postgres" },
          globalSetup: ["server/test/helpers/pg-global-setup.ts"],
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: {
          name: "timing",
          include: timing,
          env: { SEALPOST_TEST_DB: "sqlite" },
          fileParallelism: false,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
