/**
 * @sealpost/cms: the CMS (RFC 5652) byte path of sealpost, streaming both ways.
 * seal/sealFile/createSealStream write; openFile/openStream, verifyFile and inspect read.
 */
export * from "./errors.js";
export * from "./types.js";
export type { CipherName, DigestName, KeyTransportName, SignatureScheme } from "./algorithms.js";
export { SealStream, createSealStream, seal, sealFile } from "./seal.js";
export { openFile, openStream } from "./open.js";
export { MANIFEST_ATTRIBUTE_OID, decodeManifest, encodeManifest } from "./manifest.js";
export { type AddresseeVerdict, addresseeOf } from "./addressee.js";
export { SignedDataWriter, type SignedDataWriterOptions } from "./signed-data-writer.js";
export { EnvelopeWriter, type EnvelopeWriterOptions } from "./envelope-writer.js";
export { OID, oidName } from "./oids.js";
export { inspect } from "./inspect.js";
export { LIMITS } from "./limits.js";
export { SignStream, signFile } from "./sign.js";
export { MAX_VERIFY_BYTES, verifyBytes, verifyFile } from "./verify.js";
export {
  checkOutputTarget,
  outputNotFile,
  pathKind,
  sweepStaleTemps,
  tempDirPrefix,
  tempPathFor,
} from "./temp-output.js";
