/** `replaydesk/navigation@1`: in-page route changes (history API, back/forward, hash). */

import type { RecordPlugin } from '@rrweb/types';
import { plugins } from '../../../wire/vocabulary.json';
import type { NavigationPayload } from '../../../wire/payloads';
import { scrubUrl } from '../scrub';

type NavigationKind = NavigationPayload['kind'];

const withoutHash = (url: string): string => url.split('#')[0]!;

/** The navigation plugin. Full page loads are not its business: each starts with a Meta event. */
export function navigationPlugin(): RecordPlugin<null> {
  return {
    name: plugins.navigation,
    options: null,
    observer(cb, win) {
      if (win !== window) return () => undefined;
      const history = win.history;
      let last = win.location.href;
      let on = true;
      const changed = (kind: NavigationKind): void => {
        const url = win.location.href;
        if (!on || url === last) return;
        // Setting location.hash fires popstate and then hashchange: reported once, as hash.
        const hashOnly = kind === 'pop' && withoutHash(url) === withoutHash(last);
        last = url;
        cb({ url: scrubUrl(url), kind: hashOnly ? 'hash' : kind } satisfies NavigationPayload);
      };
      const wrap = (name: 'pushState' | 'replaceState', kind: NavigationKind) => {
        const native = history[name];
        const wrapper = function (this: History, ...args: Parameters<History['pushState']>) {
          const result = native.apply(this, args);
          changed(kind);
          return result;
        };
        history[name] = wrapper;
        return () => {
          if (history[name] === wrapper) history[name] = native;
        };
      };
      const restorePush = wrap('pushState', 'push');
      const restoreReplace = wrap('replaceState', 'replace');
      const onPop = (): void => changed('pop');
      const onHash = (): void => changed('hash');
      win.addEventListener('popstate', onPop);
      win.addEventListener('hashchange', onHash);
      return () => {
        on = false;
        restorePush();
        restoreReplace();
        win.removeEventListener('popstate', onPop);
        win.removeEventListener('hashchange', onHash);
      };
    },
  };
}
