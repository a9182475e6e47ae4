import type { SqlContext } from "./sql.js";

/**
 * One business operation's view of the database: every domain's repository over the same connection or
 * transaction (see Db.tx and Db.read). Repositories are created on first use.
 */
export class UnitOfWork {
  constructor(readonly sql: SqlContext) {}
}
