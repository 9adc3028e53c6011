import { createContext, type ReactNode, useCallback, useContext, useEffect, useState } from 'react';

export const SCREENS = ['datasets', 'generate', 'curate', 'models', 'train', 'evaluate', 'export'] as const;
export type Screen = (typeof SCREENS)[number];

interface Nav {
  screen: Screen;
  dataset: string | null;
  go(screen: Screen, dataset?: string | null): void;
  setDataset(name: string | null): void;
}

const Ctx = createContext<Nav | null>(null);

// State lives in the location hash (#/curate?ds=name) so a reload keeps the place and tests can deep-link.
function parse(): { screen: Screen; dataset: string | null } {
  const m = /^#\/([a-z]+)(?:\?ds=([^&]*))?/.exec(location.hash);
  const screen = (SCREENS as readonly string[]).includes(m?.[1] ?? '') ? (m![1] as Screen) : 'datasets';
  return { screen, dataset: m?.[2] ? decodeURIComponent(m[2]) : null };
}

export function NavProvider({ children }: { children: ReactNode }) {
  const [state, setState] = useState(parse);
  useEffect(() => {
    const on = () => setState(parse());
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  const go = useCallback((screen: Screen, dataset?: string | null) => {
    setState((s) => {
      const ds = dataset === undefined ? s.dataset : dataset;
      const hash = `#/${screen}${ds ? `?ds=${encodeURIComponent(ds)}` : ''}`;
      if (location.hash !== hash) history.replaceState(null, '', hash);
      return { screen, dataset: ds };
    });
  }, []);
  const setDataset = useCallback((name: string | null) => go(parse().screen, name), [go]);
  return <Ctx.Provider value={{ ...state, go, setDataset }}>{children}</Ctx.Provider>;
}

export function useNav(): Nav {
  const v = useContext(Ctx);
  if (!v) throw new Error('useNav outside NavProvider');
  return v;
}
