import type { TestProject } from "vitest/node";
import { type PgCluster, startPgCluster } from "./postgres-cluster.js";

declare module "vitest" {
  export interface ProvidedContext {
    /** The throwaway PostgreSQL cluster of this test run (see test/helpers/postgres.ts). */
    pgCluster: PgCluster;
  }
}

/**
 * vitest globalSetup: one throwaway PostgreSQL cluster for the whole test run, stopped when the run ends. Each test
 * file makes its own database in it (test/helpers/postgres.ts createTestDatabase).
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const { cluster, stop } = await startPgCluster();
  project.provide("pgCluster", cluster);
  return stop;
}
