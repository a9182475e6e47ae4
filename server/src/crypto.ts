import type { Readable } from "node:stream";
import type { CertInfo, TrustPolicy } from "@sealpost/pki";

/**
 * The few @sealpost/pki and @sealpost/cms functions the server calls, typed per /work/notes/api-contract.md and
 * loaded on first use, so the server builds while those packages grow. Nothing here does cryptography itself.
 */
export interface RecipientInfoSummary {
  type: "ktri" | "kari" | "kekri" | "pwri" | "ori";
  keyTransport?: string;
  issuer?: string;
  serialHex?: string;
  subjectKeyIdHex?: string;
}

export interface InspectResult {
  contentType: string;
  encoding: string;
  recipients: RecipientInfoSummary[];
  cipher?: string;
  certificates: CertInfo[];
  totalBytes: number;
}

export interface TrustPolicyOptions {
  anchors: CertInfo[];
  intermediates?: CertInfo[];
  crls?: Uint8Array[];
  crlDir?: string;
  revocation?: "require" | "prefer" | "off";
  now?: () => Date;
}

interface PkiApi {
  createTrustPolicy(options: TrustPolicyOptions): TrustPolicy;
}
interface CmsApi {
  inspect(input: Readable): Promise<InspectResult>;
}

let pki: Promise<PkiApi> | undefined;
let cms: Promise<CmsApi> | undefined;

function load<T>(name: string, fn: string): Promise<T> {
  return import(name).then((m: Record<string, unknown>) => {
    if (typeof m[fn] !== "function") throw new Error(`${name} does not export ${fn} (build it first)`);
    return m as T;
  });
}

/** createTrustPolicy from @sealpost/pki. */
export async function createTrustPolicy(options: TrustPolicyOptions): Promise<TrustPolicy> {
  pki ??= load<PkiApi>("@sealpost/pki", "createTrustPolicy");
  return (await pki).createTrustPolicy(options);
}

/** inspect from @sealpost/cms: reads a CMS ContentInfo's outer structure (recipients) without keys, streaming. */
export async function inspectCms(input: Readable): Promise<InspectResult> {
  cms ??= load<CmsApi>("@sealpost/cms", "inspect");
  return (await cms).inspect(input);
}
