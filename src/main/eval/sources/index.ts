// Task sources: BEIR folders, STS / pair-classification files, SemEval STS folders, labelled text files,
// parallel text files, and held-out splits of workbench datasets, one file per layout. Every parse problem
// is a one-line UserError naming the file, the line and the fix.
export { type BeirOptions, loadBeir, readQrels, readTopRanked } from './beir';
export { loadBitext } from './bitext';
export { loadDatasetTasks } from './datasets';
export { loadClassification, loadClustering, loadLabelled } from './labelled';
export { dominantScript, type FileTaskOptions, languagesFromPath } from './meta';
export { loadPairClassification, loadSts } from './pairs';
export { nameFromPath, parseDelimited, safeName } from './read';
export { isSemEvalSts, loadSemEvalSts } from './semeval';
