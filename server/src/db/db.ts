import { AsyncLocalStorage } from "node:async_hooks";
import type { AuditKey } from "../audit/audit-key.js";
import type { Kysely } from "kysely";
import { type Clock, systemClock } from "../clock.js";
import type { Database } from "./schema.js";
import type { Dialect } from "./sql.js";
import { UnitOfWork } from "./uow.js";

const inTx = new AsyncLocalStorage<true>();

/**
 * The relay's database, as services use it: units of work over the domains' repositories.
 *
 * - `tx(fn)` runs `fn` in one transaction and commits when its promise resolves (rolls back when it rejects). On
 *   SQLite the transaction holds the write lock from its start (BEGIN IMMEDIATE), so transactions are serialised;
 *   on PostgreSQL it is READ COMMITTED, and each repository method that needs more says how it keeps its invariant
 *   (a conditional UPDATE, a row lock, an advisory lock, a unique constraint). Keep `fn` to database work: no file
 *   or network I/O inside (on SQLite every other writer waits for it). Nesting a `tx` inside another throws.
 * - `read(fn)` runs `fn` with repositories outside any transaction (each query on its own): for reads. On SQLite
 *   reads go through their own connection, so they do not wait for a transaction in progress (WAL).
 */
export class Db {
  readonly dialect: Dialect;
  /** The clock repositories stamp rows with when no time is passed in. */
  readonly clock: Clock;
  private readonly writer: Kysely<Database>;
  private readonly reader: Kysely<Database>;
  private readonly onClose: (() => Promise<void>) | undefined;
  /** The relay's audit key (from the data folder), when it has one: it signs a tree head with every audit append. */
  readonly auditKey: AuditKey | undefined;

  constructor(options: {
    dialect: Dialect;
    writer: Kysely<Database>;
    /** Default: the writer. */
    reader?: Kysely<Database>;
    /** Called after both Kysely instances are destroyed. */
    onClose?: () => Promise<void>;
    /** Default: the system clock. */
    clock?: Clock;
    /** Signs the audit log's tree heads (see AuditRepository). Default: none, heads are not signed. */
    auditKey?: AuditKey;
  }) {
    this.dialect = options.dialect;
    this.clock = options.clock ?? systemClock;
    this.writer = options.writer;
    this.reader = options.reader ?? options.writer;
    this.onClose = options.onClose;
    this.auditKey = options.auditKey;
  }

  tx<T>(fn: (uow: UnitOfWork) => Promise<T>): Promise<T> {
    if (inTx.getStore()) {
      return Promise.reject(new Error("Db.tx called inside another transaction: pass the unit of work down instead"));
    }
    return inTx.run(true, () =>
      this.writer
        .transaction()
        .execute((trx) =>
          fn(new UnitOfWork({ q: trx, dialect: this.dialect, inTransaction: true }, this.clock, this.auditKey)),
        ),
    );
  }

  read<T>(fn: (uow: UnitOfWork) => Promise<T>): Promise<T> {
    return fn(
      new UnitOfWork({ q: this.reader, dialect: this.dialect, inTransaction: false }, this.clock, this.auditKey),
    );
  }

  /** The writer's Kysely instance, for the migration runner and tests that tamper with storage on purpose. */
  get kysely(): Kysely<Database> {
    return this.writer;
  }

  async close(): Promise<void> {
    if (this.reader !== this.writer) await this.reader.destroy();
    await this.writer.destroy();
    await this.onClose?.();
  }
}
