import { readFile } from "node:fs/promises";
import { userInfo } from "node:os";
import { parseCertificates } from "@sealpost/pki";
import type { AgencyDto, CertificateDto, StaffDto } from "@sealpost/protocol";
import { closeContext, createContext } from "../app.js";
import type { ServerContext } from "../context.js";
import { ServerError } from "../errors.js";
import type { Logger } from "../log.js";
import { createRegistryService, type RegistryService } from "../registry/service.js";

/**
 * `sealpost-server admin add-admin|reset-allow-list|revoke-tokens`: recovery on the data folder itself, without the
 * network and without a login, for whoever can read the data folder (the server's operator). Each change is
 * audited twice: the registry's own entry (actor "system"), and an entry `admin.local` naming the command and the
 * operating-system user who ran it. A running server sees the change on its next request.
 */

/** Who ran a local admin command: the operating-system user (the audit entry names them). */
function osUser(): string {
  try {
    return userInfo().username;
  } catch {
    return `uid ${process.getuid?.() ?? "?"}`;
  }
}

async function withRegistry<T>(
  data: string,
  log: Logger,
  fn: (ctx: ServerContext, registry: RegistryService) => Promise<T>,
): Promise<T> {
  const ctx = await createContext(data, { log, sweep: false });
  try {
    return await fn(ctx, createRegistryService({ db: ctx.db, clock: ctx.clock, validator: ctx.validator }));
  } finally {
    await closeContext(ctx);
  }
}

async function auditLocal(ctx: ServerContext, command: string, detail: Record<string, unknown>): Promise<void> {
  await ctx.db.tx((uow) =>
    uow.audit.append(
      {
        actor: "local-admin",
        role: "system",
        agency: null,
        action: "admin.local",
        detail: { command, osUser: osUser(), ...detail },
      },
      ctx.clock.now(),
    ),
  );
}

/**
 * Registers a new administrator: staff member `email` (role admin) of the existing agency `agency`, with the signing
 * certificate in `certFile` (PEM, validated against the server's trust anchors like any registration). A staff
 * member with that e-mail address already registered is CONFLICT (nothing changes).
 */
export async function addAdmin(
  data: string,
  o: { agency: string; email: string; name: string; certFile: string },
  log: Logger,
): Promise<{ staff: StaffDto; certificate: CertificateDto }> {
  let pem: string;
  try {
    pem = await readFile(o.certFile, "utf8");
  } catch (e) {
    throw new ServerError(
      "BAD_REQUEST",
      `Cannot read the certificate ${o.certFile} (${(e as NodeJS.ErrnoException).code}).`,
      {
        hint: "Give the new admin's signing certificate as a PEM file (--cert FILE).",
      },
    );
  }
  return withRegistry(data, log, async (ctx, registry) => {
    await registry.getAgency(o.agency);
    // The certificate is checked first, so that a refused one leaves no staff member behind.
    const [cert, ...chain] = parseCertificates(pem);
    if (!cert) throw new ServerError("CERT_REJECTED", `${o.certFile} holds no PEM certificate.`);
    await ctx.validator.validate(cert, "sign", chain);
    const staff = await registry.addStaff(null, { agency: o.agency, name: o.name, email: o.email, role: "admin" });
    const certificate = await registry.addCertificate(null, { staff: staff.id, pem, purpose: "sign" });
    await auditLocal(ctx, "add-admin", {
      staff: staff.id,
      email: staff.email,
      agency: o.agency,
      certSha256: certificate.sha256,
    });
    return { staff, certificate };
  });
}

/** Clears agency `code`'s IP allow-list (any address may log in again). */
export async function resetAllowList(
  data: string,
  code: string,
  log: Logger,
): Promise<{ agency: AgencyDto; before: string[] }> {
  return withRegistry(data, log, async (ctx, registry) => {
    const before = (await registry.getAgency(code)).allowCidrs;
    const agency = await registry.updateAgency(null, code, { allowCidrs: [] });
    await auditLocal(ctx, "reset-allow-list", { agency: code, before });
    return { agency, before };
  });
}

/**
 * Deletes login tokens: of one staff member (`staff`, id or e-mail address), of one agency's staff (`agency`), or
 * every token (`all`). Exactly one of the three. Those people must log in again.
 */
export async function revokeTokens(
  data: string,
  o: { staff?: string; agency?: string; all?: boolean },
  log: Logger,
): Promise<{ scope: string }> {
  const given = [o.staff !== undefined, o.agency !== undefined, !!o.all].filter(Boolean).length;
  if (given !== 1) {
    throw new ServerError("BAD_REQUEST", "Say whose tokens to revoke: --staff EMAIL, --agency CODE or --all.");
  }
  return withRegistry(data, log, async (ctx, registry) => {
    let scope: string;
    if (o.staff !== undefined) {
      const s = await registry.findStaff(o.staff);
      await ctx.db.tx((uow) => uow.auth.deleteTokensOfStaff(s.id));
      scope = `staff ${s.email}`;
    } else if (o.agency !== undefined) {
      await registry.getAgency(o.agency);
      const code = o.agency;
      await ctx.db.tx((uow) => uow.auth.deleteTokensOfAgency(code));
      scope = `agency ${code}`;
    } else {
      await ctx.db.tx((uow) => uow.auth.deleteAllTokens());
      scope = "all";
    }
    await auditLocal(ctx, "revoke-tokens", { scope });
    return { scope };
  });
}
