// Sentry's browser SDK with its session replay, as a site would bundle it.
import { init, replayIntegration } from '@sentry/browser';

window.SentryBench = {
  start(dsn) {
    init({
      dsn,
      // Text shown and media kept, inputs masked: what ReplayDesk records by default.
      integrations: [replayIntegration({ maskAllText: false, blockAllMedia: false, maskAllInputs: true })],
      replaysSessionSampleRate: 1,
      replaysOnErrorSampleRate: 1,
      tracesSampleRate: 0,
    });
  },
};
