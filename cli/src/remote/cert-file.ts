import { readFile } from "node:fs/promises";
import { certificateToPem, PkiError, parseCertificates, privateKeyMaterialIn } from "@sealpost/pki";
import { CliError } from "../errors.js";
import { ioError } from "../files.js";

/** Largest certificate file read (a certificate with its chain is a few KiB). */
const MAX_CERT_FILE_BYTES = 1024 * 1024;

/**
 * Reads a certificate file that is about to be sent to the server and returns what may be sent: the certificates
 * it holds (PEM, DER or a PKCS#7 bundle), each re-encoded as a PEM CERTIFICATE block, nothing else of the file.
 * Refuses, before anything is sent: a file holding private key material (any PEM "... PRIVATE KEY" block, PKCS#12,
 * a DER key) with CliError PRIVATE_KEY_IN_FILE; a file that holds no readable certificate with USAGE; a file over
 * 1 MiB or unreadable with IO.
 */
export async function certificatesToUpload(file: string): Promise<string> {
  let bytes: Buffer;
  try {
    bytes = await readFile(file);
  } catch (e) {
    throw ioError(`Cannot read ${file}`, e);
  }
  if (bytes.length > MAX_CERT_FILE_BYTES) {
    throw new CliError("IO", `${file} is larger than a certificate file can be (${bytes.length} bytes).`);
  }
  const secret = privateKeyMaterialIn(bytes);
  if (secret) {
    throw new CliError("PRIVATE_KEY_IN_FILE", `${file} holds a private key (${secret}): nothing was sent.`, {
      hint: "Give the certificate alone (e.g. openssl pkcs12 -in FILE.p12 -nokeys -clcerts -out cert.pem); a private key never leaves your computer or card.",
      details: { file, found: secret },
    });
  }
  try {
    return parseCertificates(new Uint8Array(bytes)).map(certificateToPem).join("");
  } catch (e) {
    if (!(e instanceof PkiError)) throw e;
    throw new CliError("USAGE", `${file} holds no readable certificate: ${e.message}`, {
      cause: e,
      hint: "Give the certificate as PEM or DER (optionally followed by its chain).",
    });
  }
}
