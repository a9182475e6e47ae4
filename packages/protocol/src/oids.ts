/**
 * sealpost's private OID arc. Every private OID the project defines lives under this one arc, so nothing else needs
 * registering: 2.25 is the UUID arc of ITU-T X.667 (UUID c9fd23aa-58a2-45c8-a83e-f61e35faf24f as an integer).
 *
 *   ARC.1      attributes
 *   ARC.1.1    transfer manifest (signed attribute; value: TransferManifest, see packages/cms)
 *   ARC.2      signed receipts and server challenges (content types)
 *   ARC.2.1    receipt content type
 *   ARC.2.2    login challenge response content type
 */
export const SEALPOST_OID_ARC = "2.25.268489201638532013468901130321964757583";
export const OID_TRANSFER_MANIFEST = `${SEALPOST_OID_ARC}.1.1`;
export const OID_RECEIPT = `${SEALPOST_OID_ARC}.2.1`;
export const OID_LOGIN_CHALLENGE = `${SEALPOST_OID_ARC}.2.2`;
