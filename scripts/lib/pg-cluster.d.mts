/** Types of scripts/lib/pg-cluster.mjs, for TypeScript tests. */
export interface PgCluster {
  host: string;
  port: number;
  user: string;
  password: string;
  /** The folder holding the Unix socket (inside the cluster's temp folder). */
  socketDir: string;
}
export declare function startPgCluster(): Promise<{ cluster: PgCluster; stop(): Promise<void> }>;
export declare function createDatabase(
  cluster: PgCluster,
  prefix?: string,
): Promise<{ name: string; url: string; passwordFile: string; drop(): Promise<void> }>;
