import { useEffect, useState } from 'react';
import { useApi, useQuery } from './api/context';
import { CurateScreen } from './screens/Curate';
import { DatasetsScreen } from './screens/Datasets';
import { ExportScreen } from './screens/Export';
import { GenerateScreen } from './screens/Generate';
import { EvaluateScreen } from './screens/Evaluate';
import { FirstRun } from './screens/FirstRun';
import { ModelsScreen } from './screens/Models';
import { TrainScreen } from './screens/Train';
import { SCREENS, type Screen, useNav } from './nav';

const TITLES: Record<Screen, string> = {
  datasets: 'Datasets',
  generate: 'Generate',
  curate: 'Curate',
  models: 'Models',
  train: 'Train',
  evaluate: 'Evaluate',
  export: 'Export',
};

type Theme = 'light' | 'dark';
const initialTheme = (): Theme => {
  const saved = localStorage.getItem('embedsmith.theme');
  if (saved === 'light' || saved === 'dark') return saved;
  return window.matchMedia?.('(prefers-color-scheme: dark)').matches ? 'dark' : 'light';
};

export function App() {
  const nav = useNav();
  const { info } = useApi();
  const [theme, setTheme] = useState<Theme>(initialTheme);
  useEffect(() => {
    document.documentElement.dataset.theme = theme;
    localStorage.setItem('embedsmith.theme', theme);
  }, [theme]);
  const datasets = useQuery(
    (c) => c.datasets.list.query(),
    [],
    (e) => e.topic === 'datasets',
  );
  return (
    <div className="app">
      <nav className="sidebar">
        <div className="brand">Embedsmith</div>
        {SCREENS.map((s) => (
          <button
            key={s}
            type="button"
            className={nav.screen === s ? 'nav on' : 'nav'}
            aria-current={nav.screen === s ? 'page' : undefined}
            onClick={() => nav.go(s)}
          >
            {TITLES[s]}
          </button>
        ))}
        <div className="sidebar-foot">
          <label>
            Dataset
            <select
              aria-label="current dataset"
              value={nav.dataset ?? ''}
              onChange={(e) => nav.setDataset(e.target.value || null)}
            >
              <option value="">(none)</option>
              {(datasets.data ?? []).map((d) => (
                <option key={d.name} value={d.name}>
                  {d.name}
                </option>
              ))}
            </select>
          </label>
          <button type="button" onClick={() => setTheme(theme === 'dark' ? 'light' : 'dark')}>
            {theme === 'dark' ? 'Light theme' : 'Dark theme'}
          </button>
          <div className="muted small">
            v{info?.version ?? '…'} · {info?.transport === 'ipc' ? 'desktop' : 'browser'}
            <br />
            <span title={info?.home}>{info?.home}</span>
          </div>
        </div>
      </nav>
      <main className="content">
        <h1>
          {TITLES[nav.screen]}
          {nav.dataset && nav.screen !== 'datasets' ? <span className="muted"> · {nav.dataset}</span> : null}
        </h1>
        {nav.screen === 'datasets' && datasets.data && <FirstRun empty={datasets.data.length === 0} />}
        {nav.screen === 'datasets' && <DatasetsScreen />}
        {nav.screen === 'models' && <ModelsScreen />}
        {nav.screen === 'generate' && <GenerateScreen />}
        {nav.screen === 'curate' && <CurateScreen />}
        {nav.screen === 'train' && <TrainScreen />}
        {nav.screen === 'evaluate' && <EvaluateScreen />}
        {nav.screen === 'export' && <ExportScreen />}
      </main>
    </div>
  );
}
