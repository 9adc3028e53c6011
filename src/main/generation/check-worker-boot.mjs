// Starts a TypeScript worker (the check worker, the HTTP worker) when running from source (CLI through tsx,
// tests): a worker does not inherit the parent's tsx loader, so it registers its own before importing the
// entry named in workerData.
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(workerData.entry);
