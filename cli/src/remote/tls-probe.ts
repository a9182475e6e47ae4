import { connect, type PeerCertificate } from "node:tls";

/** What a server's TLS certificate says about itself: subject, issuer and SHA-256 fingerprint. */
export interface ServerCertificate {
  subject: string;
  issuer: string;
  sha256: string;
}

const dn = (name: PeerCertificate["issuer"] | undefined): string =>
  Object.entries(name ?? {})
    .map(([k, v]) => `${k}=${[v].flat().join("+")}`)
    .join(", ");

/**
 * Opens a TLS connection to `url`'s host and port without checking the certificate, reads the certificate the
 * server presents and closes the connection at once: nothing is sent (no token, no request), so this only serves to
 * tell the user what an untrusted server showed. Undefined when it cannot be read within `timeoutMs` (default 5 s).
 */
export function probeServerCertificate(url: string, timeoutMs = 5000): Promise<ServerCertificate | undefined> {
  return new Promise((resolve) => {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      return resolve(undefined);
    }
    const host = u.hostname.replace(/^\[|\]$/g, "");
    const socket = connect({
      host,
      port: Number(u.port || 443),
      rejectUnauthorized: false,
      ...(/^[\d.]+$/.test(host) || host.includes(":") ? {} : { servername: host }),
    });
    const done = (v: ServerCertificate | undefined) => {
      clearTimeout(timer);
      socket.destroy();
      resolve(v);
    };
    const timer = setTimeout(() => done(undefined), timeoutMs);
    socket.once("secureConnect", () => {
      const c = socket.getPeerCertificate();
      done(c?.fingerprint256 ? { subject: dn(c.subject), issuer: dn(c.issuer), sha256: c.fingerprint256 } : undefined);
    });
    socket.once("error", () => done(undefined));
  });
}
