import { parseCert, type ParsedCert } from "./x509.js";

/** Limits for path building. */
export interface BuildOptions {
  /** Most certificates between the end entity and the anchor (default 8). */
  maxIntermediates?: number;
  /** Most candidate paths yielded (default 32). */
  maxPaths?: number;
  /** Time used to order candidates (those valid at that time first). */
  time?: Date;
}

/** A candidate path: end entity first, anchor last (the anchor is also `anchor`). */
export interface CandidatePath {
  certs: ParsedCert[];
  anchor: ParsedCert;
}

function akiCompatible(child: ParsedCert, issuer: ParsedCert): boolean {
  const want = child.authorityKeyId?.keyId;
  if (want && issuer.subjectKeyId && want !== issuer.subjectKeyId) return false;
  return true;
}

function issues(issuer: ParsedCert, child: ParsedCert): boolean {
  return issuer.subject.key === child.issuer.key && akiCompatible(child, issuer);
}

function rank(c: ParsedCert, child: ParsedCert, time: Date | undefined): number {
  let r = 0;
  if (child.authorityKeyId?.keyId && c.subjectKeyId === child.authorityKeyId.keyId) r -= 2;
  if (time && (time < c.notBefore || time > c.notAfter)) r += 4;
  return r;
}

/**
 * Yields candidate certification paths from `ee` to one of `anchors` through certificates of `pool`, depth first,
 * trying every issuer whose subject name matches (and whose subjectKeyIdentifier agrees with the child's
 * authorityKeyIdentifier when both are present), so cross-certificates and key rollovers are explored. A
 * certificate (by content, and by subject + key) appears at most once per path, which stops loops. Paths are not
 * validated here: callers run them through the RFC 5280 checks and move on to the next candidate on failure.
 */
export function* buildPathsParsed(
  ee: ParsedCert,
  anchors: ParsedCert[],
  pool: ParsedCert[],
  options: BuildOptions = {},
): Generator<CandidatePath> {
  const maxInter = options.maxIntermediates ?? 8;
  let budget = options.maxPaths ?? 32;
  let steps = 0;
  const anchorHashes = new Set(anchors.map((a) => a.sha256));
  const seenPool = new Set<string>();
  const uniquePool = pool.filter((p) => {
    if (anchorHashes.has(p.sha256) || seenPool.has(p.sha256)) return false;
    seenPool.add(p.sha256);
    return true;
  });
  const chain: ParsedCert[] = [ee];
  const used = new Set<string>([ee.sha256, `${ee.subject.key}|${Buffer.from(ee.spki).toString("hex")}`]);

  function* extend(cur: ParsedCert, inter: number): Generator<CandidatePath> {
    if (budget <= 0 || ++steps > 2000) return;
    const anchorHits = anchors.filter((a) => issues(a, cur) && a.sha256 !== cur.sha256);
    anchorHits.sort((a, b) => rank(a, cur, options.time) - rank(b, cur, options.time));
    for (const a of anchorHits) {
      if (budget-- <= 0) return;
      yield { certs: [...chain, a], anchor: a };
    }
    if (inter >= maxInter) return;
    const next = uniquePool.filter((p) => issues(p, cur));
    next.sort((a, b) => rank(a, cur, options.time) - rank(b, cur, options.time));
    for (const p of next) {
      const keyId = `${p.subject.key}|${Buffer.from(p.spki).toString("hex")}`;
      if (used.has(p.sha256) || used.has(keyId)) continue;
      used.add(p.sha256);
      used.add(keyId);
      chain.push(p);
      yield* extend(p, inter + 1);
      chain.pop();
      used.delete(p.sha256);
      used.delete(keyId);
    }
  }
  yield* extend(ee, 0);
}

/** Anything holding DER certificate bytes (CertInfo, or raw DER). */
export type CertInput = { der: Uint8Array } | Uint8Array;

export function derOf(c: CertInput): Uint8Array {
  return c instanceof Uint8Array ? c : c.der;
}

/**
 * Public form of the path builder over CertInfo (or DER): yields paths as arrays, end entity first, anchor last.
 * See buildPathsParsed for the search rules.
 */
export function* buildPaths<T extends CertInput>(
  ee: T,
  anchors: T[],
  pool: T[],
  options: BuildOptions = {},
): Generator<T[]> {
  const byHash = new Map<string, T>();
  const parse = (c: T): ParsedCert => {
    const pc = parseCert(derOf(c));
    if (!byHash.has(pc.sha256)) byHash.set(pc.sha256, c);
    return pc;
  };
  const pe = parse(ee);
  const pa = anchors.map(parse);
  const pp = pool.map(parse);
  for (const cand of buildPathsParsed(pe, pa, pp, options)) {
    yield cand.certs.map((c) => byHash.get(c.sha256) as T);
  }
}
