// The load generator's sockets. It shares the machine's cores with the server it measures, so its clients
// (@sealpost/client) send through node:http with a keep-alive agent (httpFetch of @sealpost/client/node, one socket
// per concurrent client) rather than Node 20's fetch, whose per-request overhead costs the server CPU time and, with
// 50 clients, left single requests waiting for seconds on the client side. Logins, registration and file transfers
// use the client with the default fetch.
import http from "node:http";

/** A keep-alive agent for `sockets` concurrent clients (default 50). Call `destroy()` when done. */
export function loadAgent(sockets = 50) {
  return new http.Agent({ keepAlive: true, maxSockets: sockets, maxFreeSockets: sockets });
}
