import type { CertificateCheckDto, CertPurpose } from "@sealpost/protocol";
import { useState } from "preact/hooks";
import type { ConsoleApi } from "./api.js";
import type { Lang, T } from "./i18n.js";
import { useLoad } from "./load.js";

/** Certificates that end within this many days are highlighted (and named so in words, not by colour alone). */
export const EXPIRY_WARN_DAYS = 30;
const DAY_MS = 86_400_000;

/**
 * The PEM text of a certificate file: PEM as it is; DER (a .cer as Windows exports it) wrapped as PEM. The file is
 * read here in the browser; only this text is sent to the server.
 */
export async function pemOfFile(file: File): Promise<string> {
  const bytes = new Uint8Array(await file.arrayBuffer());
  const text = new TextDecoder().decode(bytes.subarray(0, 64));
  if (text.includes("-----BEGIN")) return new TextDecoder().decode(bytes);
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  const b64 = btoa(bin).replace(/.{1,64}/g, "$&\n");
  return `-----BEGIN CERTIFICATE-----\n${b64}-----END CERTIFICATE-----\n`;
}

/** What the server saw in the chosen certificate, before anything is registered. */
function CheckResult(props: { t: T; lang: Lang; c: CertificateCheckDto }) {
  const { t, lang, c } = props;
  const fmt = (iso: string) => new Date(iso).toLocaleString(lang);
  const soon = c.daysLeft >= 0 && c.daysLeft <= EXPIRY_WARN_DAYS;
  return (
    <dl class="details" data-testid="cert-check">
      <dt>{t("subject")}</dt>
      <dd>{c.subject}</dd>
      <dt>{t("issuer")}</dt>
      <dd>{c.issuer}</dd>
      <dt>{t("serial")}</dt>
      <dd class="hash">{c.serialHex}</dd>
      <dt>{t("validity")}</dt>
      <dd class={soon ? "expiring" : undefined}>
        {fmt(c.notBefore)} – {fmt(c.notAfter)} ({c.daysLeft} {t("daysLeft")}){soon ? ` ${t("expiringSoon")}` : ""}
      </dd>
      <dt>{t("keyUsage")}</dt>
      <dd>{c.keyUsage.join(", ") || "—"}</dd>
      <dt>{t("key")}</dt>
      <dd>
        {c.keyType}
        {c.keyBits ? ` ${c.keyBits}` : ""}
      </dd>
      <dt>{t("purposeCert")}</dt>
      <dd>{c.purpose ? t(c.purpose === "sign" ? "purposeSign" : "purposeEncrypt") : "—"}</dd>
      <dt>{t("trustCheck")}</dt>
      <dd data-testid="cert-trust" class={c.trusted ? "ok" : "bad"}>
        {c.trusted ? t("trustOk") : `${t("trustBad")}: ${c.problem?.code} ${c.problem?.message}`}
      </dd>
      <dt>SHA-256</dt>
      <dd class="hash">{c.sha256}</dd>
      {c.registered && (
        <>
          <dt>{t("registeredAlready")}</dt>
          <dd>{t("yes")}</dd>
        </>
      )}
    </dl>
  );
}

/**
 * Admin: registered certificates (those ending within EXPIRY_WARN_DAYS highlighted), and registering one: choose
 * the staff member and the .cer/.pem file, see subject, validity, key usage and the server's trust check first,
 * then register it; revoke a registered one.
 */
export function CertificatesPage(props: { api: ConsoleApi; t: T; lang: Lang; onError: (e: unknown) => void }) {
  const { api, t, lang } = props;
  const staff = useLoad(() => api.client.call("listStaff"), props.onError);
  const { data, reload } = useLoad(() => api.client.call("listCertificates"), props.onError);
  const [who, setWho] = useState("");
  const [purpose, setPurpose] = useState<CertPurpose | "">("");
  const [pem, setPem] = useState<string | undefined>();
  const [checked, setChecked] = useState<CertificateCheckDto | undefined>();
  const [status, setStatus] = useState<string | undefined>();
  const [fileKey, setFileKey] = useState(0);
  const nameOf = (id: string) => staff.data?.find((s) => s.id === id);
  const fmt = (iso: string) => new Date(iso).toLocaleDateString(lang);

  const check = async (text: string | undefined, p: CertPurpose | "") => {
    setChecked(undefined);
    if (!text) return;
    try {
      setChecked(await api.client.call("checkCertificate", { body: { pem: text, ...(p ? { purpose: p } : {}) } }));
    } catch (err) {
      props.onError(err);
    }
  };
  const choose = async (file: File | undefined) => {
    setStatus(undefined);
    const text = file ? await pemOfFile(file) : undefined;
    setPem(text);
    await check(text, purpose);
  };
  const register = async (e: Event) => {
    e.preventDefault();
    if (!pem || !who) return;
    try {
      const c = await api.client.call("addCertificate", {
        body: { staff: who, pem, ...(purpose ? { purpose } : {}) },
      });
      setStatus(`${t("certAdded")}${c.commonName} (${t(c.purpose === "sign" ? "purposeSign" : "purposeEncrypt")})`);
      setChecked(undefined);
      setPem(undefined);
      setFileKey((k) => k + 1);
      reload();
    } catch (err) {
      props.onError(err);
    }
  };
  const revoke = async (id: string) => {
    try {
      await api.client.call("revokeCertificate", { params: { id }, body: { reason: "console" } });
      reload();
    } catch (err) {
      props.onError(err);
    }
  };
  const now = Date.now();
  return (
    <section aria-labelledby="certs-heading">
      <h1 id="certs-heading">{t("certificates")}</h1>
      {status && (
        <p role="status" class="status">
          {status}
        </p>
      )}
      <section aria-labelledby="cert-new-heading">
        <h2 id="cert-new-heading">{t("certNew")}</h2>
        <form class="form" onSubmit={register}>
          <label for="cert-staff">{t("staffMember")}</label>
          <select id="cert-staff" required value={who} onChange={(e) => setWho((e.target as HTMLSelectElement).value)}>
            <option value="" />
            {(staff.data ?? [])
              .filter((s) => s.active)
              .map((s) => (
                <option key={s.id} value={s.id}>
                  {s.name} &lt;{s.email}&gt; ({s.agency})
                </option>
              ))}
          </select>
          <label for="cert-purpose">{t("purposeCert")}</label>
          <select
            id="cert-purpose"
            value={purpose}
            onChange={(e) => {
              const p = (e.target as HTMLSelectElement).value as CertPurpose | "";
              setPurpose(p);
              check(pem, p);
            }}
          >
            <option value="">{t("purposeAuto")}</option>
            <option value="sign">{t("purposeSign")}</option>
            <option value="encrypt">{t("purposeEncrypt")}</option>
          </select>
          <label for="cert-file">{t("certFile")}</label>
          <input
            key={fileKey}
            id="cert-file"
            type="file"
            accept=".cer,.crt,.pem,.der,application/pkix-cert,application/x-x509-ca-cert"
            onChange={(e) => choose((e.target as HTMLInputElement).files?.[0])}
          />
          <button type="submit" disabled={!checked?.trusted || checked.registered || !who}>
            {t("certAdd")}
          </button>
        </form>
        {checked && <CheckResult t={t} lang={lang} c={checked} />}
      </section>
      <section aria-labelledby="cert-list-heading">
        <h2 id="cert-list-heading">{t("certRegistered")}</h2>
        {!data && <p role="status">{t("loading")}</p>}
        {data && (
          <table>
            <thead>
              <tr>
                <th scope="col">{t("staffMember")}</th>
                <th scope="col">{t("purposeCert")}</th>
                <th scope="col">{t("subject")}</th>
                <th scope="col">{t("notAfter")}</th>
                <th scope="col">{t("certStatus")}</th>
                <th scope="col">{t("actions")}</th>
              </tr>
            </thead>
            <tbody>
              {data.map((c) => {
                const days = Math.floor((Date.parse(c.notAfter) - now) / DAY_MS);
                const soon = c.status === "active" && days <= EXPIRY_WARN_DAYS;
                const s = nameOf(c.staffId);
                return (
                  <tr key={c.id} class={soon ? "expiring" : undefined} data-testid={`cert-${c.sha256}`}>
                    <td>{s ? `${s.name} <${s.email}>` : c.staffId}</td>
                    <td>{t(c.purpose === "sign" ? "purposeSign" : "purposeEncrypt")}</td>
                    <td>{c.subject}</td>
                    <td>
                      <time dateTime={c.notAfter}>{fmt(c.notAfter)}</time>
                      {soon && (
                        <strong>
                          {" "}
                          {t("expiringSoon")} ({days} {t("daysLeft")})
                        </strong>
                      )}
                    </td>
                    <td>
                      {t(c.status === "active" ? "certActive" : c.status === "revoked" ? "certRevoked" : "certExpired")}
                    </td>
                    <td>
                      {c.status === "active" && (
                        <button
                          type="button"
                          onClick={() => revoke(c.id)}
                          aria-label={`${t("revoke")} ${c.commonName} ${t(c.purpose === "sign" ? "purposeSign" : "purposeEncrypt")}`}
                        >
                          {t("revoke")}
                        </button>
                      )}
                    </td>
                  </tr>
                );
              })}
            </tbody>
          </table>
        )}
      </section>
    </section>
  );
}
