/** The case states after which a case's files may be purged (DESIGN section 5: "after the case ends"). */
export const ENDED_STATES = ["result_received", "cancelled"] as const;

/** One use of a stored file by a case. */
export interface FileUse {
  caseId: string;
  role: "payload" | "result";
  state: string;
  endedAt: string | null;
}

/** True when `use` no longer needs the file at `cutoff`. */
export function useHasExpired(use: FileUse, cutoff: string): boolean {
  return (ENDED_STATES as readonly string[]).includes(use.state) && use.endedAt !== null && use.endedAt <= cutoff;
}
