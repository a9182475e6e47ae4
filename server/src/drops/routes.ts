import type { FastifyInstance } from "fastify";
import { actorWith, requireAuth, sourceOf, type TokenResolver } from "../auth/guard.js";
import { ServerError } from "../errors.js";
import type { Logger } from "../log.js";
import { DropError } from "./errors.js";
import type { DropActor, DropService } from "./service.js";
import type { Drop, DropInput, DropRun } from "./types.js";

/** Options of the drops plugin. */
export interface DropsRoutesOptions {
  /** The drop service (built and scheduled by the server's composition root; see server/src/services.ts). */
  drops: DropService;
  auth: TokenResolver;
  log: Logger;
}

type Named = { Params: { name: string } };

/** A drop with its latest run, as GET /v1/drops and GET /v1/drops/:name return it. No key material. */
export type DropView = Drop & { lastRun: DropRun | null };

/**
 * Ops API of SFTP drops (role ops only; 401 without a token, 403 for other roles):
 *   POST /v1/drops                  add a drop (DropInput; the private key is stored, never returned) -> 201 Drop
 *   GET  /v1/drops                  every drop with its latest run
 *   GET  /v1/drops/:name            one drop with its latest run
 *   POST /v1/drops/:name/run        start a run now -> 202 { run } (status running); body { "wait": true } waits
 *                                   and answers 200 { run } with the finished run; 409 CONFLICT if one is running
 *   GET  /v1/drops/:name/history    runs, newest first (?limit=1..500, default 50)
 *   POST /v1/drops/:name/disable    stop scheduling it (idempotent) -> Drop
 *   POST /v1/drops/:name/enable     schedule it again (idempotent) -> Drop
 */
export async function dropsRoutes(app: FastifyInstance, opts: DropsRoutesOptions): Promise<void> {
  const svc = opts.drops;
  requireAuth(app, opts.auth);
  const opsActor = (request: Parameters<typeof actorWith>[0]): DropActor => {
    const a = actorWith(request, "ops");
    return { staffId: a.staffId, agency: a.agency, source: sourceOf(request) };
  };
  const view = async (d: Drop): Promise<DropView> => ({
    ...d,
    lastRun: (await svc.drops((r) => r.listRuns(d.name, 1)))[0] ?? null,
  });

  app.post("/v1/drops", async (request, reply) => {
    const actor = opsActor(request);
    const drop = await svc.create(request.body as DropInput, actor);
    return reply.status(201).send(drop);
  });
  app.get("/v1/drops", async (request) => {
    opsActor(request);
    return Promise.all((await svc.list()).map(view));
  });
  app.get<Named>("/v1/drops/:name", async (request) => {
    opsActor(request);
    return view(await svc.get(request.params.name));
  });
  app.post<Named & { Body: { wait?: boolean } | undefined }>("/v1/drops/:name/run", async (request, reply) => {
    const actor = opsActor(request);
    let started: Awaited<ReturnType<DropService["runNow"]>>;
    try {
      started = await svc.runNow(request.params.name, "manual");
    } catch (e) {
      if (e instanceof DropError && e.code === "RUN_IN_PROGRESS") {
        throw new ServerError("CONFLICT", e.message, e.hint ? { hint: e.hint } : {});
      }
      throw e;
    }
    opts.log.info("drop run requested", { drop: request.params.name, by: actor.staffId, runId: started.run.id });
    if (request.body?.wait === true) return reply.status(200).send({ run: await started.done });
    started.done.catch(() => {});
    return reply.status(202).send({ run: started.run });
  });
  app.get<Named & { Querystring: { limit?: string } }>("/v1/drops/:name/history", async (request) => {
    opsActor(request);
    const limit = request.query.limit === undefined ? 50 : Number(request.query.limit);
    if (!Number.isInteger(limit) || limit < 1 || limit > 500) {
      throw new ServerError("BAD_REQUEST", "limit must be a whole number from 1 to 500.");
    }
    return svc.history(request.params.name, limit);
  });
  app.post<Named>("/v1/drops/:name/disable", async (request) => svc.disable(request.params.name, opsActor(request)));
  app.post<Named>("/v1/drops/:name/enable", async (request) => svc.enable(request.params.name, opsActor(request)));
}
