// The API over the workbench: the shared router plus the services it delegates to. Electron's IPC handler
// and `serve` both call createApi once and hand `router` + `createContext` to their transport.
import { type ApiContext, appRouter } from '../../shared/api';
import type { Workbench } from '../workbench';
import type { EventHub } from './events';
import { type ApiOptions, createServices } from './services';

export interface Api {
  router: typeof appRouter;
  createContext: () => ApiContext;
  hub: EventHub;
  /** Direct calls without a transport (CLI, tests). */
  caller: ReturnType<typeof appRouter.createCaller>;
}

export function createApi(wb: Workbench, opts: ApiOptions): Api {
  const svc = createServices(wb, opts);
  const ctx: ApiContext = { svc };
  return {
    router: appRouter,
    createContext: () => ctx,
    hub: svc.hub,
    caller: appRouter.createCaller(ctx),
  };
}

export { EventHub } from './events';
