/**
 * `sluice/demo`: the demo's embedded document service and its fetch helper, the one place the demo
 * job, the tests and the bench get them from (the bench by this package path, as a user would).
 * Everything here listens on 127.0.0.1 only, on a port the OS picks.
 */
export { documentFor, generateDocument, startDocServer } from './doc-server.js';
export type { DocServer, DocServerOptions } from './doc-server.js';
export { createAgent, fetchBuffer, HttpStatusError } from './fetch-doc.js';
export type { FetchedDoc } from './fetch-doc.js';
