import { AuditRepository } from "../audit/repository.js";
import { AuthRepository } from "../auth/repository.js";
import { RegistryRepository } from "../registry/repository.js";
import type { SqlContext } from "./sql.js";

/**
 * One business operation's view of the database: every domain's repository over the same connection or
 * transaction (see Db.tx and Db.read). Repositories are created on first use.
 */
export class UnitOfWork {
  private _audit?: AuditRepository;
  private _auth?: AuthRepository;
  private _registry?: RegistryRepository;

  constructor(readonly sql: SqlContext) {}

  get audit(): AuditRepository {
    this._audit ??= new AuditRepository(this.sql);
    return this._audit;
  }

  get auth(): AuthRepository {
    this._auth ??= new AuthRepository(this.sql);
    return this._auth;
  }

  get registry(): RegistryRepository {
    this._registry ??= new RegistryRepository(this.sql);
    return this._registry;
  }
}
