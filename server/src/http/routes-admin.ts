import type { AgencyDto, CategoryDto, CertPurpose, Role } from "@sealpost/protocol";
import type { FastifyInstance } from "fastify";
import type { ServerContext } from "../context.js";
import {
  addAgency,
  addCategory,
  addCertificate,
  addStaff,
  deactivateAgency,
  deactivateCategory,
  listAgencies,
  listCategories,
  listCertificates,
  listStaff,
  revokeCertificate,
  setStaffActive,
  updateAgency,
} from "../registry/service.js";
import { actorWith, requireAuth } from "./auth.js";

type Params = { code: string; id: string };

/**
 * Registry API. Reading agencies and categories: any authenticated user (senders pick from them). Everything under
 * /v1/admin: role admin only.
 */
export async function adminRoutes(app: FastifyInstance, opts: { ctx: ServerContext }): Promise<void> {
  const { ctx } = opts;
  requireAuth(app, ctx);
  app.get("/v1/agencies", async (request) => {
    actorWith(request);
    return listAgencies(ctx.db)
      .filter((a) => a.active)
      .map(({ code, name }) => ({ code, name }));
  });
  app.get("/v1/categories", async (request) => {
    actorWith(request);
    return listCategories(ctx.db).filter((c) => c.active);
  });

  app.get("/v1/admin/agencies", async (request) => {
    actorWith(request, "admin");
    return listAgencies(ctx.db);
  });
  app.post("/v1/admin/agencies", async (request, reply) => {
    const a = actorWith(request, "admin");
    return reply.status(201).send(addAgency(ctx, a, request.body as AgencyDto));
  });
  app.patch<{ Params: Params }>("/v1/admin/agencies/:code", async (request) =>
    updateAgency(ctx, actorWith(request, "admin"), request.params.code, request.body as Partial<AgencyDto>),
  );

  app.post<{ Params: Params }>("/v1/admin/agencies/:code/deactivate", async (request) =>
    deactivateAgency(ctx, actorWith(request, "admin"), request.params.code),
  );

  app.get<{ Querystring: { agency?: string } }>("/v1/admin/staff", async (request) => {
    actorWith(request, "admin");
    return listStaff(ctx.db, request.query.agency);
  });
  app.post("/v1/admin/staff", async (request, reply) => {
    const a = actorWith(request, "admin");
    const b = request.body as { agency: string; name: string; email: string; role?: Role };
    return reply.status(201).send(addStaff(ctx, a, b));
  });
  app.post<{ Params: Params }>("/v1/admin/staff/:id/deactivate", async (request) =>
    setStaffActive(ctx, actorWith(request, "admin"), request.params.id, false),
  );
  app.post<{ Params: Params }>("/v1/admin/staff/:id/activate", async (request) =>
    setStaffActive(ctx, actorWith(request, "admin"), request.params.id, true),
  );

  app.get<{ Querystring: { staff?: string } }>("/v1/admin/certificates", async (request) => {
    actorWith(request, "admin");
    return listCertificates(ctx.db, request.query.staff);
  });
  app.post("/v1/admin/certificates", async (request, reply) => {
    const a = actorWith(request, "admin");
    const b = request.body as { staff: string; pem: string; purpose?: CertPurpose };
    return reply.status(201).send(await addCertificate(ctx, a, b));
  });
  app.post<{ Params: Params; Body: { reason?: string } }>("/v1/admin/certificates/:id/revoke", async (request) =>
    revokeCertificate(ctx, actorWith(request, "admin"), request.params.id, request.body?.reason ?? ""),
  );

  app.get("/v1/admin/categories", async (request) => {
    actorWith(request, "admin");
    return listCategories(ctx.db);
  });
  app.post("/v1/admin/categories", async (request, reply) => {
    const a = actorWith(request, "admin");
    return reply.status(201).send(addCategory(ctx, a, request.body as CategoryDto));
  });
  app.post<{ Params: Params }>("/v1/admin/categories/:code/deactivate", async (request) =>
    deactivateCategory(ctx, actorWith(request, "admin"), request.params.code),
  );
}
