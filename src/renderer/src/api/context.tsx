import { createContext, type ReactNode, useCallback, useContext, useEffect, useRef, useState } from 'react';
import type { AppEvent, AppInfo } from '../../../shared/contract';
import { type ApiClient, errorText } from './transport';

interface ApiState {
  client: ApiClient;
  info: AppInfo | null;
  /** Register a listener for pushed events; returns the unsubscribe. */
  onEvent(fn: (e: AppEvent) => void): () => void;
}

const Ctx = createContext<ApiState | null>(null);

export function ApiProvider({ client, children }: { client: ApiClient; children: ReactNode }) {
  const listeners = useRef(new Set<(e: AppEvent) => void>());
  const [info, setInfo] = useState<AppInfo | null>(null);
  useEffect(() => {
    client.app.info.query().then(setInfo, () => {});
    const sub = client.events.subscribe(undefined, {
      onData: (e) => {
        for (const l of listeners.current) l(e as AppEvent);
      },
    });
    return () => sub.unsubscribe();
  }, [client]);
  const onEvent = useCallback((fn: (e: AppEvent) => void) => {
    listeners.current.add(fn);
    return () => {
      listeners.current.delete(fn);
    };
  }, []);
  return <Ctx.Provider value={{ client, info, onEvent }}>{children}</Ctx.Provider>;
}

export function useApi(): ApiState {
  const v = useContext(Ctx);
  if (!v) throw new Error('useApi outside ApiProvider');
  return v;
}

/**
 * Runs a query, reruns it when deps change or when a pushed event matches `refetchOn`, and keeps the
 * previous data while reloading so tables do not flash.
 */
export function useQuery<T>(
  fn: (c: ApiClient) => Promise<T>,
  deps: unknown[],
  refetchOn?: (e: AppEvent) => boolean,
): { data: T | undefined; error: string | null; loading: boolean; reload: () => void } {
  const { client, onEvent } = useApi();
  const [data, setData] = useState<T>();
  const [error, setError] = useState<string | null>(null);
  const [loading, setLoading] = useState(true);
  const [tick, setTick] = useState(0);
  const fnRef = useRef(fn);
  fnRef.current = fn;
  const refRef = useRef(refetchOn);
  refRef.current = refetchOn;
  // biome-ignore lint/correctness/useExhaustiveDependencies: deps are the caller's
  useEffect(() => {
    let live = true;
    setLoading(true);
    fnRef.current(client).then(
      (d) => {
        if (!live) return;
        setData(d);
        setError(null);
        setLoading(false);
      },
      (e) => {
        if (!live) return;
        setError(errorText(e));
        setLoading(false);
      },
    );
    return () => {
      live = false;
    };
  }, [client, tick, ...deps]);
  useEffect(
    () =>
      onEvent((e) => {
        if (refRef.current?.(e)) setTick((t) => t + 1);
      }),
    [onEvent],
  );
  return { data, error, loading, reload: () => setTick((t) => t + 1) };
}
