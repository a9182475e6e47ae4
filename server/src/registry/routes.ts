import type { AgencyDto, CategoryDto, CertificateCheckRequest, CertPurpose, NewAgency, Role } from "@sealpost/protocol";
import type { FastifyInstance } from "fastify";
import { actorWith, requireAuth, type TokenResolver } from "../auth/guard.js";
import type { RegistryService } from "./service.js";

/** Options of the registry plugin. */
export interface RegistryRoutesOptions {
  registry: RegistryService;
  auth: TokenResolver;
}

type Params = { code: string; id: string };

/**
 * Registry API. Reading agencies and categories: any authenticated user (senders pick from them). Everything under
 * /v1/admin: role admin only.
 */
export async function registryRoutes(app: FastifyInstance, opts: RegistryRoutesOptions): Promise<void> {
  const { registry } = opts;
  requireAuth(app, opts.auth);
  app.get("/v1/agencies", async (request) => {
    actorWith(request);
    return (await registry.listAgencies()).filter((a) => a.active).map(({ code, name }) => ({ code, name }));
  });
  app.get("/v1/categories", async (request) => {
    actorWith(request);
    return (await registry.listCategories()).filter((c) => c.active);
  });

  app.get("/v1/admin/agencies", async (request) => {
    actorWith(request, "admin");
    return registry.listAgencies();
  });
  app.post("/v1/admin/agencies", async (request, reply) => {
    const a = actorWith(request, "admin");
    return reply.status(201).send(await registry.addAgency(a, request.body as NewAgency));
  });
  app.patch<{ Params: Params }>("/v1/admin/agencies/:code", async (request) =>
    registry.updateAgency(actorWith(request, "admin"), request.params.code, request.body as Partial<AgencyDto>),
  );

  app.post<{ Params: Params }>("/v1/admin/agencies/:code/deactivate", async (request) =>
    registry.deactivateAgency(actorWith(request, "admin"), request.params.code),
  );

  app.get<{ Querystring: { agency?: string } }>("/v1/admin/staff", async (request) => {
    actorWith(request, "admin");
    return registry.listStaff(request.query.agency);
  });
  app.post("/v1/admin/staff", async (request, reply) => {
    const a = actorWith(request, "admin");
    const b = request.body as { agency: string; name: string; email: string; role?: Role };
    return reply.status(201).send(await registry.addStaff(a, b));
  });
  app.post<{ Params: Params }>("/v1/admin/staff/:id/deactivate", async (request) =>
    registry.setStaffActive(actorWith(request, "admin"), request.params.id, false),
  );
  app.post<{ Params: Params }>("/v1/admin/staff/:id/activate", async (request) =>
    registry.setStaffActive(actorWith(request, "admin"), request.params.id, true),
  );

  app.get<{ Querystring: { staff?: string } }>("/v1/admin/certificates", async (request) => {
    actorWith(request, "admin");
    return registry.listCertificates(request.query.staff);
  });
  app.post("/v1/admin/certificates", async (request, reply) => {
    const a = actorWith(request, "admin");
    const b = request.body as { staff: string; pem: string; purpose?: CertPurpose };
    return reply.status(201).send(await registry.addCertificate(a, b));
  });
  app.post<{ Body: CertificateCheckRequest }>("/v1/admin/certificates/check", async (request) => {
    actorWith(request, "admin");
    return registry.checkCertificate(request.body);
  });
  app.post<{ Params: Params; Body: { reason?: string } }>("/v1/admin/certificates/:id/revoke", async (request) =>
    registry.revokeCertificate(actorWith(request, "admin"), request.params.id, request.body?.reason ?? ""),
  );

  app.get("/v1/admin/categories", async (request) => {
    actorWith(request, "admin");
    return registry.listCategories();
  });
  app.post("/v1/admin/categories", async (request, reply) => {
    const a = actorWith(request, "admin");
    return reply.status(201).send(await registry.addCategory(a, request.body as CategoryDto));
  });
  app.post<{ Params: Params }>("/v1/admin/categories/:code/deactivate", async (request) =>
    registry.deactivateCategory(actorWith(request, "admin"), request.params.code),
  );
}
