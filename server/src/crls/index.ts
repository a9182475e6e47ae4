/**
 * CRL refresh: the relay's CRLs kept current from its configured files and folder and from the distribution points,
 * with their state in `crl_state` for `sealpost-server status` and warnings to ops by e-mail before they go stale.
 * See README.md in this folder.
 */
export { migrations } from "./migrations.js";
export { CrlRefresher, type CrlRefresherOptions, type CrlRunResult, type CrlSources } from "./refresh.js";
export { type CrlStatus, type CrlIssuerStatus, crlStatus, DEFAULT_WARN_BEFORE_MS } from "./status.js";
export { type CrlRefreshWorker, DEFAULT_CRL_REFRESH_MS, startCrlRefreshWorker } from "./worker.js";
