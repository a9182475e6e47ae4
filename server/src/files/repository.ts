import type { SqlContext } from "../db/sql.js";

/** The `files` table: one row per stored sealed file (by SHA-256), with its size and when it was purged. */
export class FileRepository {
  constructor(private readonly s: SqlContext) {}

  /** Records a stored file; a file stored again after a purge is live again (purged_at cleared). */
  async record(sha256: string, size: number, createdAt: string): Promise<void> {
    await this.s.q
      .insertInto("files")
      .values({ sha256, size, created_at: createdAt })
      .onConflict((oc) => oc.column("sha256").doUpdateSet({ purged_at: null }))
      .execute();
  }

  get(sha256: string) {
    return this.s.q.selectFrom("files").selectAll().where("sha256", "=", sha256).executeTakeFirst();
  }

  /** True when the file is recorded (purged or not): the start-up sweep keeps exactly these. */
  async known(sha256: string): Promise<boolean> {
    return (
      (await this.s.q.selectFrom("files").select("sha256").where("sha256", "=", sha256).executeTakeFirst()) !==
      undefined
    );
  }
}
