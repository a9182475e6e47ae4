import { CASE_STATES, type CaseState } from "@sealpost/protocol";
import { ServerError } from "../errors.js";

/** Page size of GET /v1/cases when `limit` is not given. */
export const DEFAULT_CASE_PAGE = 100;
/** Largest `limit` GET /v1/cases accepts. */
export const MAX_CASE_PAGE = 500;

/** Where a page of cases ends: the last item's updated_at and id (the list is ordered updated_at DESC, id DESC). */
export interface CaseCursor {
  updatedAt: string;
  id: string;
}

/** The validated query of GET /v1/cases. */
export interface CaseListQuery {
  box?: "inbox" | "outbox";
  state?: CaseState;
  limit: number;
  before?: CaseCursor;
}

/**
 * The opaque cursor handed out as nextCursor: base64url of the JSON array [updatedAt, id]. Clients must treat it as
 * opaque and only pass it back as `before`.
 */
export function encodeCursor(c: CaseCursor): string {
  return Buffer.from(JSON.stringify([c.updatedAt, c.id]), "utf8").toString("base64url");
}

/** Decodes a `before` cursor; BAD_REQUEST (400) when it is not one this server handed out. */
export function decodeCursor(text: string): CaseCursor {
  const bad = () =>
    new ServerError("BAD_REQUEST", "The paging cursor (before) is not valid.", {
      hint: "Pass back the nextCursor of the previous page unchanged, or leave it out to start at the newest case.",
    });
  if (text.length === 0 || text.length > 512 || !/^[A-Za-z0-9_-]+$/.test(text)) throw bad();
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(text, "base64url").toString("utf8"));
  } catch {
    throw bad();
  }
  if (
    !Array.isArray(parsed) ||
    parsed.length !== 2 ||
    typeof parsed[0] !== "string" ||
    typeof parsed[1] !== "string" ||
    !Number.isFinite(Date.parse(parsed[0])) ||
    parsed[1].length === 0 ||
    parsed[1].length > 100
  ) {
    throw bad();
  }
  return { updatedAt: parsed[0], id: parsed[1] };
}

/**
 * Validates the raw query of GET /v1/cases: `box` inbox|outbox, `state` a case state, `limit` a whole number
 * 1..MAX_CASE_PAGE (default DEFAULT_CASE_PAGE), `before` a cursor. Each given at most once; anything else is
 * BAD_REQUEST (400).
 */
export function parseCaseListQuery(raw: Record<string, unknown> | undefined): CaseListQuery {
  const q = raw ?? {};
  const one = (name: string): string | undefined => {
    const v = q[name];
    if (v === undefined) return undefined;
    if (typeof v !== "string") throw new ServerError("BAD_REQUEST", `Give the query parameter ${name} once.`);
    return v;
  };
  const out: CaseListQuery = { limit: DEFAULT_CASE_PAGE };
  const box = one("box");
  if (box !== undefined) {
    if (box !== "inbox" && box !== "outbox") throw new ServerError("BAD_REQUEST", "box must be inbox or outbox.");
    out.box = box;
  }
  const state = one("state");
  if (state !== undefined) {
    if (!Object.hasOwn(CASE_STATES, state)) {
      throw new ServerError("BAD_REQUEST", `Unknown case state "${state.slice(0, 40)}".`, {
        hint: `States: ${Object.keys(CASE_STATES).join(", ")}.`,
      });
    }
    out.state = state as CaseState;
  }
  const limit = one("limit");
  if (limit !== undefined) {
    const n = /^\d{1,4}$/.test(limit) ? Number(limit) : Number.NaN;
    if (!(n >= 1 && n <= MAX_CASE_PAGE)) {
      throw new ServerError("BAD_REQUEST", `limit must be a whole number from 1 to ${MAX_CASE_PAGE}.`);
    }
    out.limit = n;
  }
  const before = one("before");
  if (before !== undefined) out.before = decodeCursor(before);
  return out;
}
