import { SealpostError } from "@sealpost/protocol";

/** Node errno codes of a file operation, in words. */
const ERRNO_WORDS: Record<string, string> = {
  ENOENT: "no such file or folder",
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  EEXIST: "it already exists",
  EISDIR: "it is a folder",
  ENOTDIR: "a part of the path is not a folder",
  ENOSPC: "no space left on the device",
  EROFS: "read-only file system",
};

/**
 * What `sealpost-server` prints for a failure and the exit code: SealpostError (ServerError, PkiError ...) as its
 * message and hint, exit 2 (1 for INTERNAL); a Node file error (errno code and path) in words with a hint, exit 2;
 * anything else as an internal error, exit 1. Never a stack trace.
 */
export function describeFailure(e: unknown): { message: string; hint?: string; exitCode: number } {
  if (e instanceof SealpostError) {
    return { message: e.message, ...(e.hint ? { hint: e.hint } : {}), exitCode: e.code === "INTERNAL" ? 1 : 2 };
  }
  const err = e as (NodeJS.ErrnoException & { dest?: string }) | undefined;
  const code = typeof err?.code === "string" ? err.code : undefined;
  if (code && code in ERRNO_WORDS) {
    const what = err?.path ? `${err.path}${err.dest ? ` -> ${err.dest}` : ""}` : "a file";
    return {
      message: `Cannot use ${what}: ${ERRNO_WORDS[code]}.`,
      hint:
        code === "EEXIST"
          ? "Choose a new file name: sealpost-server never overwrites a file."
          : "Check the path and its permissions (for the user the server runs as).",
      exitCode: 2,
    };
  }
  return {
    message: `internal error: ${e instanceof Error ? e.message : String(e)}`,
    hint: "Report it to the sealpost maintainers with the command you ran.",
    exitCode: 1,
  };
}
