import * as cms from "@sealpost/cms";

/**
 * TEMPORARY: @sealpost/cms functions that are in the API contract but not yet exported by the build this CLI was
 * compiled against (inspect, signFile, verifyFile) are looked up at run time. Replace with direct imports once
 * they are exported.
 */
export function cmsCall(name: "inspect" | "signFile" | "verifyFile"): (...args: never[]) => Promise<unknown> {
  const f = (cms as unknown as Record<string, unknown>)[name];
  if (typeof f !== "function") throw new Error(`this build of @sealpost/cms has no ${name}() yet`);
  return f as (...args: never[]) => Promise<unknown>;
}
