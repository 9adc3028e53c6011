export {
  MiningService,
  type MineReport,
  type MineRequest,
  type ScoreRequest,
  type ScoreSummary,
} from './service';
export { MiningStore, SCORE_SORTS, type ScoredExample, type ScorePageRequest, type ScoreSort } from './store';
export { formatMineReport, formatScoreSummary } from './report';
