import type { Selectable } from "kysely";
import type { CrlsTable } from "../db/schema.js";
import type { SqlContext } from "../db/sql.js";

export type CrlRow = Selectable<CrlsTable>;

/** A good CRL of a source, as the refresh stores it. */
export interface StoredCrl {
  issuer: string;
  sha256: string;
  der: Uint8Array;
  thisUpdate: string;
  nextUpdate: string | null;
  crlNumber: string | null;
}

/** The `crls` table (crls-001): the relay's current CRLs by source, written by the refresh job. */
export class CrlRepository {
  constructor(private readonly s: SqlContext) {}

  all(): Promise<CrlRow[]> {
    return this.s.q.selectFrom("crls").selectAll().orderBy("source").execute();
  }

  /** What changes whenever a CRL does: the latest `updated_at` and the row count ("" when there is none). */
  async version(): Promise<string> {
    const r = await this.s.q
      .selectFrom("crls")
      .select((eb) => [eb.fn.max("updated_at").as("latest"), eb.fn.countAll<number>().as("n")])
      .executeTakeFirst();
    return r?.latest ? `${r.latest}/${Number(r.n)}` : "";
  }

  /** Stores `crl` as the source's current CRL (clearing its error). */
  async put(source: string, crl: StoredCrl, at: string): Promise<void> {
    const values = {
      issuer: crl.issuer,
      sha256: crl.sha256,
      der: Buffer.from(crl.der),
      this_update: crl.thisUpdate,
      next_update: crl.nextUpdate,
      crl_number: crl.crlNumber,
      updated_at: at,
      checked_at: at,
      last_error: null,
    };
    await this.s.q
      .insertInto("crls")
      .values({ source, ...values })
      .onConflict((oc) => oc.column("source").doUpdateSet(values))
      .execute();
  }

  /** Records a check of `source` that found nothing new (error null) or failed (its CRL, if any, stays). */
  async checked(source: string, at: string, error: string | null): Promise<void> {
    await this.s.q
      .insertInto("crls")
      .values({ source, updated_at: at, checked_at: at, last_error: error })
      .onConflict((oc) => oc.column("source").doUpdateSet({ checked_at: at, last_error: error }))
      .execute();
  }

  async markWarned(source: string, nextUpdate: string): Promise<void> {
    await this.s.q.updateTable("crls").set({ warned_for: nextUpdate }).where("source", "=", source).execute();
  }

  /** Removes sources no longer configured (a CRL file taken out of the folder). */
  async remove(sources: string[]): Promise<void> {
    if (sources.length > 0) await this.s.q.deleteFrom("crls").where("source", "in", sources).execute();
  }
}
