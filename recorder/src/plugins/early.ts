/** Plugins that start with the recorder, not when rrweb starts its plugins after the page's
 * first frame.
 *
 * A page's scripts (module and deferred ones too) run, log and make requests before
 * DOMContentLoaded: a failing start-up is exactly what a ticket is about. The plugin observes
 * this window at once; what it records until rrweb starts is kept and emitted then. */

import type { RecordPlugin } from '@rrweb/types';

/** Entries kept from before the recording starts. */
const EARLY_MAX = 100;

/** `plugin`, observing this window from now on; `stops` gets the undo, for a recording that
 * ends before rrweb ever starts its plugins. */
export function startedEarly<T>(plugin: RecordPlugin<T>, stops: (() => void)[]): RecordPlugin<T> {
  const observe = plugin.observer!;
  let emit: ((payload: unknown) => void) | undefined;
  const early: unknown[] = [];
  const stop = observe(
    (payload) => {
      if (emit) emit(payload);
      else if (early.length < EARLY_MAX) early.push(payload);
    },
    window,
    plugin.options,
  );
  stops.push(stop);
  return {
    ...plugin,
    observer(cb, win, options) {
      // Same-origin iframes start with rrweb, as before.
      if (win !== window) return observe(cb, win, options);
      emit = cb;
      for (const payload of early.splice(0)) cb(payload);
      return stop;
    },
  };
}
