import type { AppEvent } from '../../shared/contract';

/**
 * In-process fan-out of app events to every subscriber (IPC windows, WebSocket clients). Each subscriber
 * gets its own bounded queue so a slow client cannot hold the others back; when full, the oldest is dropped
 * (events only tell screens to refetch, so losing one in a burst is harmless).
 */
export class EventHub {
  private readonly subs = new Set<(e: AppEvent) => void>();

  emit(e: AppEvent): void {
    for (const s of this.subs) s(e);
  }

  get size(): number {
    return this.subs.size;
  }

  async *stream(signal?: AbortSignal, max = 1000): AsyncGenerator<AppEvent> {
    const queue: AppEvent[] = [];
    let wake: (() => void) | null = null;
    const push = (e: AppEvent) => {
      if (queue.length >= max) queue.shift();
      queue.push(e);
      wake?.();
    };
    const onAbort = () => wake?.();
    this.subs.add(push);
    signal?.addEventListener('abort', onAbort);
    try {
      while (!signal?.aborted) {
        if (queue.length) {
          yield queue.shift()!;
          continue;
        }
        await new Promise<void>((r) => {
          wake = r;
        });
        wake = null;
      }
    } finally {
      this.subs.delete(push);
      signal?.removeEventListener('abort', onAbort);
    }
  }
}
