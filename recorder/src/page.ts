/** `replaydesk/page`: where a session is watched from, sent as a page load's recording starts. */

import type { PagePayload } from '../../wire/payloads';
import { scrubUrl } from './scrub';

type Navigation = NonNullable<PagePayload['navigation']>;
const NAVIGATIONS: readonly string[] = ['navigate', 'reload', 'back_forward', 'prerender'] satisfies Navigation[];

let loadReported = false;

/** The page and the browser as they are now; how the page was loaded only the first time. */
export function pagePayload(release: string | undefined, environment: string | undefined): PagePayload {
  const payload: PagePayload = {
    url: scrubUrl(location.href),
    userAgent: navigator.userAgent,
    language: navigator.language,
    timeZone: Intl.DateTimeFormat().resolvedOptions().timeZone || '',
    viewport: { width: innerWidth, height: innerHeight },
    screen: { width: screen.width, height: screen.height },
    pixelRatio: devicePixelRatio,
  };
  if (!loadReported) {
    loadReported = true;
    const entry = performance.getEntriesByType?.('navigation')[0] as PerformanceNavigationTiming | undefined;
    if (entry && NAVIGATIONS.includes(entry.type)) payload.navigation = entry.type as Navigation;
  }
  if (release) payload.release = release;
  if (environment) payload.environment = environment;
  return payload;
}
