export { ApiError, type ClientErrorCode } from "./errors.js";
export {
  type ClientOptions,
  type FileDownload,
  type LoginSigner,
  SealpostClient,
  type UploadBody,
} from "./client.js";
export type { ArgsOf, EndpointMethods, InputOf, JsonEndpointName, OutputOf } from "./types.js";
export { apiBase } from "./url.js";
