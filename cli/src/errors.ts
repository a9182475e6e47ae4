import { SealpostError } from "@sealpost/protocol";

/**
 * Codes of failures the CLI itself detects (the libraries' CmsError/PkiError codes pass through unchanged).
 *
 * - USAGE: bad or missing arguments or options (exit 2).
 * - PIN_ON_COMMAND_LINE: someone tried `--pin`; PINs never go in argv (exit 2).
 * - PIN_REQUIRED: a keystore needs a PIN, no terminal to ask on and no SEALPOST_PIN or --pin-file (exit 5).
 * - PIN_ABORTED: the user cancelled the PIN prompt (Ctrl-C / Ctrl-D) (exit 5).
 * - KEYSTORE: the keystore file is not a readable PKCS#12 or private key file, or holds no private key (exit 5).
 * - CONFIG: the config file is not valid JSON or has a field of the wrong type (exit 2).
 * - IO: reading or writing a file failed (exit 3).
 * - OUTPUT_EXISTS: the output file exists and --force was not given (exit 3).
 * - PRIVATE_KEY_IN_FILE: a file given as a certificate to send to the server holds private key material (PEM key
 *   block, PKCS#12); refused before anything is sent (exit 2).
 */
export type CliErrorCode =
  | "USAGE"
  | "PIN_ON_COMMAND_LINE"
  | "PIN_REQUIRED"
  | "PIN_ABORTED"
  | "KEYSTORE"
  | "CONFIG"
  | "IO"
  | "OUTPUT_EXISTS"
  | "PRIVATE_KEY_IN_FILE";

/** A failure found by the CLI (not by @sealpost/cms or @sealpost/pki). */
export class CliError extends SealpostError<CliErrorCode> {}

/** Shorthand for a usage error with an optional hint. */
export function usageError(message: string, hint?: string): CliError {
  return new CliError("USAGE", message, hint === undefined ? {} : { hint });
}
