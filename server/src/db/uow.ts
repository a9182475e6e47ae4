import type { AuditKey } from "../audit/audit-key.js";
import { AuditRepository } from "../audit/repository.js";
import { AuthRepository } from "../auth/repository.js";
import { ConsoleRepository } from "../console/repository.js";
import { CaseRepository } from "../cases/repository.js";
import { FileRepository } from "../files/repository.js";
import { MailRepository } from "../mail/repository.js";
import { OpsRepository } from "../ops/repository.js";
import { RegistryRepository } from "../registry/repository.js";
import { RetentionRepository } from "../retention/repository.js";
import { RosterRepository } from "../rosters/repository.js";
import type { Clock } from "../clock.js";
import { DropRepository } from "../drops/repository.js";
import { LeaseRepository } from "../jobs/repository.js";
import { CrlRepository } from "../crls/repository.js";
import type { SqlContext } from "./sql.js";

/**
 * One business operation's view of the database: every domain's repository over the same connection or
 * transaction (see Db.tx and Db.read). Repositories are created on first use.
 */
export class UnitOfWork {
  private _audit?: AuditRepository;
  private _auth?: AuthRepository;
  private _registry?: RegistryRepository;
  private _cases?: CaseRepository;
  private _files?: FileRepository;
  private _mail?: MailRepository;
  private _retention?: RetentionRepository;

  private _drops?: DropRepository;
  private _leases?: LeaseRepository;
  private _console?: ConsoleRepository;
  private _crls?: CrlRepository;
  private _ops?: OpsRepository;
  private _rosters?: RosterRepository;

  constructor(
    readonly sql: SqlContext,
    readonly clock: Clock,
    /** The relay's audit key: audit appends sign a tree head with it (none: the tree grows unsigned). */
    readonly auditKey?: AuditKey,
  ) {}

  get audit(): AuditRepository {
    this._audit ??= new AuditRepository(this.sql, this.auditKey);
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

  get cases(): CaseRepository {
    this._cases ??= new CaseRepository(this.sql);
    return this._cases;
  }

  get files(): FileRepository {
    this._files ??= new FileRepository(this.sql);
    return this._files;
  }

  get mail(): MailRepository {
    this._mail ??= new MailRepository(this.sql);
    return this._mail;
  }

  get retention(): RetentionRepository {
    this._retention ??= new RetentionRepository(this.sql);
    return this._retention;
  }

  get drops(): DropRepository {
    this._drops ??= new DropRepository(this.sql, () => this.clock.now());
    return this._drops;
  }

  get leases(): LeaseRepository {
    this._leases ??= new LeaseRepository(this.sql);
    return this._leases;
  }

  get console(): ConsoleRepository {
    this._console ??= new ConsoleRepository(this.sql);
    return this._console;
  }

  get crls(): CrlRepository {
    this._crls ??= new CrlRepository(this.sql);
    return this._crls;
  }

  get ops(): OpsRepository {
    this._ops ??= new OpsRepository(this.sql);
    return this._ops;
  }

  get rosters(): RosterRepository {
    this._rosters ??= new RosterRepository(this.sql);
    return this._rosters;
  }
}
