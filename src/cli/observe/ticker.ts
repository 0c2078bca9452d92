/** The shared life cycle of a reporter: a timer that renders, a final render on stop. */

/** Shows the progress of a run. */
export interface Reporter {
  /** Ticks every `intervalMs` from now on (an unref'd timer: it never keeps the process alive). */
  start(): void;
  /** Renders (or emits) the current state now. */
  tick(): void;
  /** Stops the timer and renders the final state once; later calls do nothing. */
  stop(): void;
  /** Writes a line of its own (a notice, a rejected record) without breaking the display. */
  note(line: string): void;
}

/**
 * A reporter around `render(final)`. `start()` twice keeps one timer; after `stop()`, `start()`
 * and `tick()` do nothing, so a late timer cannot draw over the final state. `note(line, live)`
 * writes a line; `live` says whether the display is running (started, not stopped). `after(final)`
 * runs after each render, outside it (a watch that may write a note: the ceiling warning).
 */
export function createTicker(
  render: (final: boolean) => void,
  intervalMs: number,
  note: (line: string, live: boolean) => void,
  after?: (final: boolean) => void,
): Reporter {
  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const tick = (): void => {
    if (stopped) return;
    render(false);
    after?.(false);
  };
  return {
    start() {
      if (stopped || timer !== undefined) return;
      timer = setInterval(tick, intervalMs);
      timer.unref();
    },
    tick,
    stop() {
      if (stopped) return;
      stopped = true;
      clearInterval(timer);
      timer = undefined;
      render(true);
      after?.(true);
    },
    note: (line) => note(line, timer !== undefined && !stopped),
  };
}
