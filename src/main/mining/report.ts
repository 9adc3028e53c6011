// Human-readable reports of mining and scoring runs (the --json output is the report object itself).
import type { MineReport, ScoreSummary } from './service';
import { formatDistributions } from './stats';

export function formatMineReport(r: MineReport): string {
  const k = r.knobs;
  const knobs = [
    `range ${k.rangeMin}-${k.rangeMax}`,
    k.maxScore !== null ? `max-score ${k.maxScore}` : null,
    k.minScore !== null ? `min-score ${k.minScore}` : null,
    k.margin !== null ? `margin ${k.margin}` : null,
    k.relativeMargin !== null ? `relative-margin ${k.relativeMargin}` : null,
    `${k.numNegatives} negatives per query`,
    `sampling ${k.sampling}${k.sampling === 'random' ? ` (seed ${k.seed})` : ''}`,
  ]
    .filter(Boolean)
    .join(', ');
  const hist = Object.entries(r.histogram)
    .map(([n, c]) => `  ${n.padStart(3)} negatives: ${String(c).padStart(6)} queries`)
    .join('\n');
  return [
    `mining run ${r.runId} on ${r.dataset}: ${r.queries} queries (${r.uniqueQueries} unique), pool ${r.pool.size} candidates from ${r.pool.origin}${r.pool.duplicates ? ` (${r.pool.duplicates} exact duplicates folded)` : ''}`,
    `knobs: ${knobs}; top-${r.k} retrieved per query`,
    `stored ${r.negatives} mined negatives (examples' own negatives untouched; ${r.skippedOwnNegative} candidates skipped as the example's own LLM negative)`,
    '',
    'negatives per query:',
    hist,
    '',
    formatDistributions([
      ['positive score', r.scores.positive],
      ['negative score', r.scores.negative],
      ['margin (pos-neg)', r.scores.margin],
    ]),
    '',
    r.short.queries
      ? `${r.short.queries} of ${r.queries} queries got fewer than ${k.numNegatives} negatives:\n${r.short.hints.map((h) => `  ${h}`).join('\n')}`
      : `every query got ${k.numNegatives} negatives`,
    `time: embed ${r.seconds.embed.toFixed(1)} s, search ${r.seconds.search.toFixed(1)} s, total ${r.seconds.total.toFixed(1)} s (${Math.round(r.candidatesPerS)} candidates/s)`,
  ].join('\n');
}

export function formatScoreSummary(s: ScoreSummary): string {
  return [
    `score run ${s.runId} on ${s.dataset}: ${s.examples} examples (${s.withNegatives} with negatives), margin ${s.margin}`,
    `likely false negatives: ${s.likelyFalseNegatives} examples (${s.flaggedNegatives.llm} LLM-written and ${s.flaggedNegatives.mined} mined negatives score ≥ positive − ${s.margin})`,
    '',
    formatDistributions([
      ['positive score', s.scores.positive],
      ['LLM negative score', s.scores.llmNegative],
      ['mined negative score', s.scores.minedNegative],
      ['margin (pos-neg)', s.scores.margin],
    ]),
    `time: ${s.seconds.toFixed(1)} s`,
  ].join('\n');
}
