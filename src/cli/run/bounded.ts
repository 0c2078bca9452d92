/** Waiting for something that may never finish (a job's `close()`, a stuck run) for a bounded time. */

export type Settled = { readonly status: 'done' } | { readonly status: 'failed'; readonly error: unknown } | { readonly status: 'timeout' };

/**
 * How `work` settled within `ms`. The timer is not unref'd on purpose: when `work` hangs on
 * nothing the event loop can see, the timer is what keeps the process alive until the limit.
 */
export async function within(work: Promise<unknown>, ms: number): Promise<Settled> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<Settled>((resolve) => {
    timer = setTimeout(() => resolve({ status: 'timeout' }), ms);
  });
  try {
    return await Promise.race([
      work.then(
        (): Settled => ({ status: 'done' }),
        (error: unknown): Settled => ({ status: 'failed', error }),
      ),
      timeout,
    ]);
  } finally {
    clearTimeout(timer);
  }
}
