import { once } from "node:events";
import { SignStream } from "@sealpost/cms";
import { encodeRoster, type RosterContent, type RosterEntry } from "@sealpost/protocol";
import { keyEntry } from "../helpers.js";

/**
 * A roster as an officer signs it (what `sealpost roster sign` sends): CMS SignedData, attached, over
 * encodeRoster(content), signed with fixture person `id`'s signing key; base64 DER. `bytes` replaces the signed
 * content (to sign something that is not a roster).
 */
export async function signedRoster(
  id: string,
  content: { agency: string; version: number; recipients: RosterEntry[]; issuedAt?: string },
  bytes?: Uint8Array,
): Promise<string> {
  const full: RosterContent = { type: "sealpost-roster", issuedAt: new Date().toISOString(), ...content };
  const s = new SignStream({ signer: keyEntry(id, "sign") });
  const out: Buffer[] = [];
  s.on("data", (b: Buffer) => out.push(b));
  const ended = once(s, "end");
  s.end(Buffer.from(bytes ?? encodeRoster(full)));
  await ended;
  return Buffer.concat(out).toString("base64");
}
