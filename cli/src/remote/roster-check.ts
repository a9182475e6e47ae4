import { createHash } from "node:crypto";
import { CmsError, verifyBytes } from "@sealpost/cms";
import { type CertInfo, PkiError, parseCertificates, type TrustPolicy } from "@sealpost/pki";
import {
  EXIT_CODES,
  type ProfileRecipient,
  parseRoster,
  RosterError,
  type RosterContent,
  type RosterDto,
} from "@sealpost/protocol";
import type { RemoteClient } from "./client.js";
import { RemoteError } from "./errors.js";
import { loadRosterPins, pinOf, type RosterPins, rosterPinsPath, saveRosterPins, setPin } from "./roster-pins.js";
import type { RemoteRuntime } from "./runtime.js";

/** A roster whose signature, officer path and revocation, pinned officer key and version all checked out here. */
export interface VerifiedRoster {
  content: RosterContent;
  /** The officer who signed it. */
  signer: CertInfo;
  /** SHA-256 of the signed content. */
  contentSha256: string;
  /** True when this call pinned the officer key (first use). */
  firstUse: boolean;
}

/** Roster refusals exit 8 (certificate not acceptable): the CLI will not seal to what it cannot tie to an officer. */
const refuse = (code: string, message: string, hint: string, details?: Record<string, unknown>) =>
  new RemoteError(code, message, {
    exitCode: EXIT_CODES.CERTIFICATE,
    hint,
    ...(details ? { details } : {}),
  });

/**
 * Normalises a certificate fingerprint as users paste it: "SHA256:AB:CD...", "ab cd ..." or plain hex, to lower-case
 * hex. Undefined when it is not 64 hex digits.
 */
export function normaliseFingerprint(text: string): string | undefined {
  const hex = text
    .trim()
    .replace(/^sha-?256:/i, "")
    .replace(/[\s:]/g, "")
    .toLowerCase();
  return /^[0-9a-f]{64}$/.test(hex) ? hex : undefined;
}

/**
 * Fetches, verifies and pins agency rosters for one command, against one server. Every roster is checked in this
 * order: the CMS signature and the officer certificate's path to the user's trust anchors with revocation (as the
 * user's trust settings say: CRLs, "require" by default); the content is the documented canonical form and names the
 * agency; the officer key is one pinned for that agency at this server (none pinned yet: it is pinned now and
 * the user is told, like SSH known_hosts); the version is not lower than the one seen before, and the same version
 * has the same content. Pins are written only after a roster passed every check.
 *
 * An agency that publishes no roster is refused (ROSTER_MISSING) when this CLI has seen a roster of it before, or
 * when the config sets `"requireRosters": true`; otherwise (an agency that has not adopted rosters yet) the
 * recipients are used as the relay lists them, with a warning.
 */
export class RosterGuard {
  private readonly cache = new Map<string, VerifiedRoster | undefined>();
  private readonly described = new Set<string>();
  private pins: RosterPins | undefined;

  constructor(
    private readonly rt: RemoteRuntime,
    private readonly client: RemoteClient,
    private readonly trust: { policy: TrustPolicy; intermediates: CertInfo[] },
  ) {}

  /**
   * The verified roster of `agency`, or undefined when it has none and that is allowed (see the class comment).
   * `use` "review" (roster show and sign) skips the warning and the requireRosters refusal for an agency without a
   * roster: nothing is sealed on it.
   */
  async roster(agency: string, use: "seal" | "review" = "seal"): Promise<VerifiedRoster | undefined> {
    if (this.cache.has(agency)) return this.cache.get(agency);
    const v = await this.fetchAndVerify(agency, use);
    this.cache.set(agency, v);
    return v;
  }

  private async loadPins(): Promise<RosterPins> {
    this.pins ??= await loadRosterPins(this.rt.env);
    return this.pins;
  }

  private async fetchAndVerify(agency: string, use: "seal" | "review"): Promise<VerifiedRoster | undefined> {
    const server = this.client.base;
    const pins = await this.loadPins();
    const pin = pinOf(pins, server, agency);
    let dto: RosterDto;
    try {
      dto = await this.client.call("getRoster", { params: { code: agency } });
    } catch (e) {
      if (!(e instanceof RemoteError && e.code === "NOT_FOUND")) throw e;
      if (pin && pin.version > 0) {
        throw refuse(
          "ROSTER_MISSING",
          `The relay no longer serves a roster of ${agency}, but this CLI saw version ${pin.version} of it: refusing to seal to recipients no officer signed.`,
          "Report it to the relay's operators and to the agency; nothing was registered or uploaded.",
          { agency, seenVersion: pin.version },
        );
      }
      if (use === "review") return undefined;
      if (this.rt.config.requireRosters) {
        throw refuse(
          "ROSTER_MISSING",
          `Agency ${agency} publishes no signed roster, and your config requires one (requireRosters).`,
          `Ask ${agency} to have a roster officer sign its roster (sealpost roster sign --agency ${agency}).`,
          { agency },
        );
      }
      this.rt.out.warn(
        `agency ${agency} publishes no signed roster yet: its recipients are as the relay lists them (set "requireRosters": true in the config to refuse this)`,
      );
      return undefined;
    }
    let verified: Awaited<ReturnType<typeof verifyBytes>>;
    try {
      verified = await verifyBytes(Buffer.from(dto.cms, "base64"), {
        trust: this.trust.policy,
        intermediates: this.trust.intermediates,
      });
    } catch (e) {
      if (!(e instanceof CmsError || e instanceof PkiError)) throw e;
      throw refuse(
        "ROSTER_UNTRUSTED",
        `The roster of ${agency} cannot be trusted: ${e.message}`,
        "Nothing was registered or uploaded. Ask the agency's roster officer to sign a new roster with a valid certificate.",
        { agency, reason: e.code },
      );
    }
    let content: RosterContent;
    try {
      content = parseRoster(verified.content);
    } catch (e) {
      if (!(e instanceof RosterError)) throw e;
      throw refuse("ROSTER_MALFORMED", `The roster of ${agency}: ${e.message}`, "Nothing was registered or uploaded.", {
        agency,
      });
    }
    if (content.agency !== agency) {
      throw refuse(
        "ROSTER_MALFORMED",
        `The relay answered a roster of ${content.agency} when asked for ${agency}.`,
        "Report it to the relay's operators; nothing was registered or uploaded.",
        { agency, rosterAgency: content.agency },
      );
    }
    const signer = verified.signer.cert;
    const contentSha256 = createHash("sha256").update(verified.content).digest("hex");
    let firstUse = false;
    if (!pin || pin.officers.length === 0) {
      firstUse = true;
    } else if (!pin.officers.includes(signer.sha256)) {
      throw refuse(
        "OFFICER_NOT_PINNED",
        `The roster of ${agency} is signed by ${signer.commonName || signer.subject} (officer key SHA-256 ${signer.sha256}), which is not among the officer keys you trust for ${agency}.`,
        `Confirm this fingerprint with ${agency} out of band, then run: sealpost roster trust ${agency} --fingerprint ${signer.sha256}`,
        { agency, signerSha256: signer.sha256, pinned: pin.officers },
      );
    }
    if (pin && content.version < pin.version) {
      throw refuse(
        "ROSTER_ROLLBACK",
        `The relay served version ${content.version} of ${agency}'s roster, but this CLI already saw version ${pin.version}: refusing an older roster.`,
        "Report it to the relay's operators; nothing was registered or uploaded.",
        { agency, version: content.version, seenVersion: pin.version },
      );
    }
    if (pin && content.version === pin.version && pin.contentSha256 && pin.contentSha256 !== contentSha256) {
      throw refuse(
        "ROSTER_ROLLBACK",
        `The relay served a different roster of ${agency} under version ${content.version} than the one this CLI saw.`,
        "Report it to the relay's operators and to the agency; nothing was registered or uploaded.",
        { agency, version: content.version },
      );
    }
    setPin(pins, server, agency, {
      officers: firstUse ? [signer.sha256] : (pin?.officers ?? [signer.sha256]),
      version: content.version,
      contentSha256,
      pinnedAt: firstUse ? new Date().toISOString() : (pin?.pinnedAt ?? new Date().toISOString()),
    });
    await saveRosterPins(pins, this.rt.env);
    if (firstUse) {
      this.rt.out.stderr.write(
        `sealpost: pinned the roster officer key of ${agency} at first use: ${signer.commonName || signer.subject}, SHA-256 ${signer.sha256} (in ${rosterPinsPath(this.rt.env)}); confirm this fingerprint with ${agency} out of band\n`,
      );
    }
    return { content, signer, contentSha256, firstUse };
  }

  /**
   * Checks a profile's recipients: each must belong to one of `agencies`, and its certificate (its SHA-256 computed
   * here from the PEM, not taken from the relay) must be on that agency's verified roster when the agency has one.
   * Throws NOT_ON_ROSTER (exit 8) naming every other certificate; returns the rosters used.
   */
  async check(recipients: ProfileRecipient[], agencies: string[]): Promise<Map<string, VerifiedRoster | undefined>> {
    const used = new Map<string, VerifiedRoster | undefined>();
    for (const a of agencies) if (recipients.some((r) => r.agency === a)) used.set(a, await this.roster(a));
    const offending: { name: string; email: string; agency: string; sha256: string; why: string }[] = [];
    for (const r of recipients) {
      // The hash is computed here from the certificate sealed to, never taken from the relay's record.
      const [cert] = parseCertificates(r.certificate.pem);
      const sha256 = cert?.sha256 ?? "";
      if (!cert) {
        offending.push({ name: r.name, email: r.email, agency: r.agency, sha256, why: "no certificate" });
        continue;
      }
      if (!agencies.includes(r.agency)) {
        offending.push({
          name: r.name,
          email: r.email,
          agency: r.agency,
          sha256,
          why: "not of an agency of this case",
        });
        continue;
      }
      const roster = used.get(r.agency);
      if (roster && !roster.content.recipients.some((e) => e.certSha256 === sha256)) {
        offending.push({
          name: r.name,
          email: r.email,
          agency: r.agency,
          sha256,
          why: `not on ${r.agency}'s signed roster version ${roster.content.version}`,
        });
      }
    }
    if (offending.length > 0) {
      const list = offending.map((o) => `${o.name} <${o.email}> (${o.agency}) sha256 ${o.sha256}: ${o.why}`).join("; ");
      throw refuse(
        "NOT_ON_ROSTER",
        `The relay offered recipient certificates that the agency's roster officers did not sign: ${list}.`,
        "Nothing was sealed or uploaded. Report it to the relay's operators and the receiving agency; a recipient added to the registry is usable once an officer signs the roster (sealpost roster sign).",
        { certificates: offending },
      );
    }
    return used;
  }

  /** The rosters this guard fetched, for --json results: null for an agency that publishes none. */
  summary(): { agency: string; version: number | null; officerSha256: string | null; pinnedNow: boolean }[] {
    return [...this.cache].map(([agency, v]) => ({
      agency,
      version: v?.content.version ?? null,
      officerSha256: v?.signer.sha256 ?? null,
      pinnedNow: v?.firstUse ?? false,
    }));
  }

  /** One report line per roster used (agency, version, officer), each roster once per guard. */
  describe(used: Map<string, VerifiedRoster | undefined>): string[] {
    const fresh = [...used].filter(([agency]) => !this.described.has(agency));
    for (const [agency] of fresh) this.described.add(agency);
    return fresh.map(([agency, v]) =>
      v
        ? `roster of ${agency} verified: version ${v.content.version} issued ${v.content.issuedAt}, signed by officer ${v.signer.commonName || v.signer.subject} (SHA-256 ${v.signer.sha256})${v.firstUse ? ", pinned now" : ""}`
        : `no signed roster of ${agency}: recipients as the relay lists them`,
    );
  }
}
