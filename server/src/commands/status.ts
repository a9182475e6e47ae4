import type Database from "better-sqlite3";
import { mailStatus } from "../mail/outbox.js";

/** Case counts by state, plus the mail outbox status. */
export function serverStatus(db: Database.Database): {
  cases: Record<string, number>;
  mail: ReturnType<typeof mailStatus>;
} {
  const cases: Record<string, number> = {};
  for (const r of db.prepare("SELECT state, COUNT(*) AS n FROM cases GROUP BY state").all() as {
    state: string;
    n: number;
  }[]) {
    cases[r.state] = r.n;
  }
  return { cases, mail: mailStatus(db) };
}
