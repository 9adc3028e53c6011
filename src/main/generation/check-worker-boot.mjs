// Starts the TypeScript check worker when running from source (CLI through tsx, tests): a worker does
// not inherit the parent's tsx loader, so it registers its own before importing the entry.
import { workerData } from 'node:worker_threads';
import { register } from 'tsx/esm/api';

register();
await import(workerData.entry);
