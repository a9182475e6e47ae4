/** Types of scripts/make-batch.mjs, for TypeScript tests and benchmarks. */
export declare const COLUMNS: readonly string[];
/** Parses "1G", "256M", "5M", "100K", "12345" (powers of 1024). Throws RangeError on anything else. */
export declare function parseSize(text: string): number;
/** The batch as Buffers of at most 4 MiB. Exactly one of rows (data rows) and bytes (minimum size). Seed default "sealpost". */
export declare function batchChunks(options: { rows?: number; bytes?: number; seed?: string }): Generator<Buffer>;
/** Parses the command line. Throws RangeError on bad arguments. */
export declare function parseArgs(
  argv: string[],
): { help: true } | { opts: { rows?: number; bytes?: number; seed: string }; out: string | undefined };
