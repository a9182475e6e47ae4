import { defineConfig } from "vitest/config";

// One test run for the whole workspace. Tests import built packages (`npm test` builds first).
export default defineConfig({
  test: {
    include: [
      "tests/**/*.test.ts",
      "packages/*/test/**/*.test.ts",
      "cli/test/**/*.test.ts",
      "server/test/**/*.test.ts",
    ],
    pool: "forks",
    // One throwaway PostgreSQL cluster per run; each test file that needs it makes its own database.
    globalSetup: ["server/test/helpers/pg-global-setup.ts"],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    reporters: ["default"],
  },
});
