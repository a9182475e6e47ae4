/** The throwaway PostgreSQL cluster the tests share with the demo and the benchmarks (scripts/lib/pg-cluster.mjs). */
export { type PgCluster, startPgCluster } from "../../../scripts/lib/pg-cluster.mjs";
