import { BlockList, isIP } from "node:net";
import { ServerError } from "../errors.js";

/** Normalises "::ffff:1.2.3.4" to "1.2.3.4". */
export function normaliseIp(ip: string): string {
  return ip.startsWith("::ffff:") && isIP(ip.slice(7)) === 4 ? ip.slice(7) : ip;
}

/** Checks that every entry is a CIDR ("10.0.0.0/8", "2001:db8::/32") or a bare address; throws BAD_REQUEST. */
export function validateCidrs(cidrs: string[]): string[] {
  for (const c of cidrs) parseCidr(c);
  return cidrs;
}

function parseCidr(c: string): { net: string; prefix: number; type: "ipv4" | "ipv6" } {
  const [net = "", p] = c.split("/");
  const v = isIP(net);
  const prefix = p === undefined ? (v === 4 ? 32 : 128) : Number(p);
  if (v === 0 || !Number.isInteger(prefix) || prefix < 0 || prefix > (v === 4 ? 32 : 128)) {
    throw new ServerError("BAD_REQUEST", `"${c}" is not an IP address range (CIDR, e.g. 10.1.0.0/16).`);
  }
  return { net, prefix, type: v === 4 ? "ipv4" : "ipv6" };
}

/** True when `ip` is inside one of `cidrs`; an empty list allows every address. */
export function ipAllowed(ip: string, cidrs: string[]): boolean {
  if (cidrs.length === 0) return true;
  const list = new BlockList();
  for (const c of cidrs) {
    const { net, prefix, type } = parseCidr(c);
    list.addSubnet(net, prefix, type);
  }
  const addr = normaliseIp(ip);
  return list.check(addr, isIP(addr) === 6 ? "ipv6" : "ipv4");
}
