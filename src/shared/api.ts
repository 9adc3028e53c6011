// The one router both transports serve (Electron IPC via trpc-electron, HTTP + WebSocket in `serve`).
// It only validates input (zod) and delegates to `Services`, so it carries no node:* code and the renderer
// can import `type AppRouter` without pulling the main process in.
import { initTRPC, TRPCError } from '@trpc/server';
import { z } from 'zod';
import { BUSY_MESSAGE, isSqliteBusy } from './busy';
import { inputs, type Services } from './contract';

export interface ApiContext {
  svc: Services;
}

const t = initTRPC.context<ApiContext>().create({
  // The router only runs in main / serve; this keeps tRPC's browser check quiet in happy-dom tests.
  allowOutsideOfServer: true,
  // No stack traces to clients: errors carry their one-line message and, for schema failures, the issues.
  isDev: false,
  errorFormatter({ shape, error }) {
    const issues =
      error.cause instanceof z.ZodError
        ? error.cause.issues.map((i) => `${i.path.join('.') || '(input)'}: ${i.message}`)
        : undefined;
    return { ...shape, data: { ...shape.data, issues, userError: error.code === 'BAD_REQUEST' } };
  },
});

/** One readable line for a schema failure: `limit: Too big: expected number to be <=1000; name: …`. */
export const zodMessage = (e: z.ZodError) =>
  `invalid request: ${e.issues.map((i) => `${i.path.join('.') || '(input)'}: ${i.message}`).join('; ')}`;

/**
 * Errors reach every caller (IPC, HTTP, WS, direct) as BAD_REQUEST with one readable line: schema failures
 * name the field, and the services' UserErrors keep their text.
 */
const userErrors = t.middleware(async ({ next }) => {
  const r = await next();
  if (r.ok) return r;
  const cause = r.error.cause as Error | undefined;
  if (cause instanceof z.ZodError)
    throw new TRPCError({ code: 'BAD_REQUEST', message: zodMessage(cause), cause });
  if (cause?.name === 'UserError')
    throw new TRPCError({ code: 'BAD_REQUEST', message: cause.message, cause });
  // The lock outlasted the busy timeout: 503 says "try again", never a 500.
  if (isSqliteBusy(cause)) throw new TRPCError({ code: 'SERVICE_UNAVAILABLE', message: BUSY_MESSAGE, cause });
  return r;
});

const p = t.procedure.use(userErrors);

export const appRouter = t.router({
  app: t.router({
    info: p.query(({ ctx }) => ctx.svc.info()),
  }),
  datasets: t.router({
    list: p.query(({ ctx }) => ctx.svc.datasets.list()),
    create: p.input(inputs.datasetCreate).mutation(({ ctx, input }) => ctx.svc.datasets.create(input)),
    delete: p.input(inputs.datasetRef).mutation(({ ctx, input }) => ctx.svc.datasets.delete(input)),
    stats: p.input(inputs.datasetStats).query(({ ctx, input }) => ctx.svc.datasets.stats(input)),
    import: p.input(inputs.datasetImport).mutation(({ ctx, input }) => ctx.svc.datasets.import(input)),
    export: p.input(inputs.datasetExport).mutation(({ ctx, input }) => ctx.svc.datasets.export(input)),
    split: p.input(inputs.datasetSplit).mutation(({ ctx, input }) => ctx.svc.datasets.split(input)),
    setInstruction: p
      .input(inputs.datasetInstruction)
      .mutation(({ ctx, input }) => ctx.svc.datasets.setInstruction(input)),
  }),
  jobs: t.router({
    list: p.query(({ ctx }) => ctx.svc.jobs.list()),
    cancel: p.input(inputs.jobRef).mutation(({ ctx, input }) => ctx.svc.jobs.cancel(input)),
  }),
  generation: t.router({
    plan: p.input(inputs.generationOptions).query(({ ctx, input }) => ctx.svc.generation.plan(input)),
    start: p.input(inputs.generationOptions).mutation(({ ctx, input }) => ctx.svc.generation.start(input)),
    resume: p.input(inputs.runResume).mutation(({ ctx, input }) => ctx.svc.generation.resume(input)),
    pause: p.input(inputs.runRef).mutation(({ ctx, input }) => ctx.svc.generation.pause(input)),
    cancel: p.input(inputs.runRef).mutation(({ ctx, input }) => ctx.svc.generation.cancel(input)),
    list: p.input(inputs.datasetRef).query(({ ctx, input }) => ctx.svc.generation.list(input)),
    summary: p.input(inputs.runRef).query(({ ctx, input }) => ctx.svc.generation.summary(input)),
    failures: p.input(inputs.runFailures).query(({ ctx, input }) => ctx.svc.generation.failures(input)),
  }),
  training: t.router({
    start: p.input(inputs.trainStart).mutation(({ ctx, input }) => ctx.svc.training.start(input)),
    preview: p.input(inputs.trainStart).query(({ ctx, input }) => ctx.svc.training.preview(input)),
    resume: p.input(inputs.trainRef).mutation(({ ctx, input }) => ctx.svc.training.resume(input)),
    discard: p.input(inputs.trainRef).mutation(({ ctx, input }) => ctx.svc.training.discard(input)),
    cancel: p.input(inputs.trainRef).mutation(({ ctx, input }) => ctx.svc.training.cancel(input)),
    list: p.query(({ ctx }) => ctx.svc.training.list()),
  }),
  mining: t.router({
    score: p.input(inputs.miningRun).mutation(({ ctx, input }) => ctx.svc.mining.score(input)),
    mine: p.input(inputs.miningRun).mutation(({ ctx, input }) => ctx.svc.mining.mine(input)),
    page: p.input(inputs.scorePage).query(({ ctx, input }) => ctx.svc.mining.page(input)),
    distribution: p
      .input(inputs.scoreDistribution)
      .query(({ ctx, input }) => ctx.svc.mining.distribution(input)),
    negativeAction: p
      .input(inputs.negativeAction)
      .mutation(({ ctx, input }) => ctx.svc.mining.negativeAction(input)),
  }),
  evaluation: t.router({
    run: p.input(inputs.evalRun).mutation(({ ctx, input }) => ctx.svc.evaluation.run(input)),
    compare: p.input(inputs.evalCompare).query(({ ctx, input }) => ctx.svc.evaluation.compare(input)),
  }),
  artefacts: t.router({
    export: p.input(inputs.artefactExport).mutation(({ ctx, input }) => ctx.svc.artefacts.export(input)),
  }),
  models: t.router({
    list: p.query(({ ctx }) => ctx.svc.models.list()),
    pull: p.input(inputs.modelPull).mutation(({ ctx, input }) => ctx.svc.models.pull(input)),
    remove: p.input(inputs.modelRef).mutation(({ ctx, input }) => ctx.svc.models.remove(input)),
    pausePull: p.input(inputs.jobRef).mutation(({ ctx, input }) => ctx.svc.models.pausePull(input)),
  }),
  paths: t.router({
    list: p.input(inputs.pathList).query(({ ctx, input }) => ctx.svc.paths.list(input)),
    pick: p.input(inputs.pathPick).mutation(({ ctx, input }) => ctx.svc.paths.pick(input)),
    open: p.input(inputs.pathOpen).mutation(({ ctx, input }) => ctx.svc.paths.open(input)),
  }),
  demo: t.router({
    load: p.mutation(({ ctx }) => ctx.svc.demo.load()),
  }),
  generationTools: t.router({
    connection: p
      .input(inputs.generationConnection)
      .mutation(({ ctx, input }) => ctx.svc.generationTools.connection(input)),
    preview: p
      .input(inputs.generationPreview)
      .query(({ ctx, input }) => ctx.svc.generationTools.preview(input)),
    templates: p.input(inputs.datasetRef).query(({ ctx, input }) => ctx.svc.generationTools.templates(input)),
    setTemplate: p
      .input(inputs.templateSet)
      .mutation(({ ctx, input }) => ctx.svc.generationTools.setTemplate(input)),
  }),
  secrets: t.router({
    status: p.query(({ ctx }) => ctx.svc.secrets.status()),
    set: p.input(inputs.secretSet).mutation(({ ctx, input }) => ctx.svc.secrets.set(input)),
    delete: p.input(inputs.secretRef).mutation(({ ctx, input }) => ctx.svc.secrets.delete(input)),
  }),
  examples: t.router({
    page: p.input(inputs.examplesPage).query(({ ctx, input }) => ctx.svc.examples.page(input)),
    count: p.input(inputs.examplesCount).query(({ ctx, input }) => ctx.svc.examples.count(input)),
    get: p.input(inputs.exampleId).query(({ ctx, input }) => ctx.svc.examples.get(input)),
    facets: p.input(inputs.datasetRef).query(({ ctx, input }) => ctx.svc.examples.facets(input)),
    review: p.input(inputs.review).mutation(({ ctx, input }) => ctx.svc.examples.review(input)),
    edit: p.input(inputs.edit).mutation(({ ctx, input }) => ctx.svc.examples.edit(input)),
    bulkReview: p.input(inputs.bulkReview).mutation(({ ctx, input }) => ctx.svc.examples.bulkReview(input)),
    undoBulk: p.input(inputs.undoBulk).mutation(({ ctx, input }) => ctx.svc.examples.undoBulk(input)),
    tokens: p.input(inputs.tokens).query(({ ctx, input }) => ctx.svc.examples.tokens(input)),
  }),
  events: p.subscription(async function* ({ ctx, signal }) {
    yield* ctx.svc.events(signal);
  }),
});

export type AppRouter = typeof appRouter;
