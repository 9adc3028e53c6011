// Public API of the generation area (the app and the CLI import from here).
export { GenerationService, type GenerateOptions, type ResumeOverrides, type RunHandle } from './service';
export type { GenerationProgress, RunConfig, RunState, RunSummary } from './config';
export type { Plan, PlanCell, ModelWeight } from './plan';
export { REJECT_REASONS, ERROR_CLASSES, type RejectReason, type ErrorClass } from './reasons';
export { builtinTemplates, resolveTemplates, REQUIRED_PLACEHOLDERS, type Template } from './prompts';
export { LANGUAGES, defaultLanguageWeights, parseLanguages } from './languages';
