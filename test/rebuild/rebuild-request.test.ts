import { DEFAULT_VIEW_DECLARATIONS } from '../../functions/core/default-views';
import { defineViews } from '../../functions/core/view-declaration';
import {
  CONTINUATION_MARGIN_MS,
  continuationDeadline,
  rebuildRequest,
  RebuildRequestError,
} from '../../functions/rebuild/rebuild-request';

const views = defineViews(DEFAULT_VIEW_DECLARATIONS);

describe('the rebuild Lambda request', () => {
  it('takes a batch rebuild, a replay, every view for the schedule, and a bare view as the replay it always was', () => {
    expect(rebuildRequest({ kind: 'batch', view: 'metric_day' }, views)).toEqual({ kind: 'batch', view: 'metric_day' });
    expect(rebuildRequest({ kind: 'realtime', view: 'metric_day' }, views)).toEqual({
      kind: 'realtime',
      view: 'metric_day',
    });
    expect(rebuildRequest({ kind: 'batch', view: '*' }, views)).toEqual({ kind: 'batch', view: '*' });
    expect(rebuildRequest({ view: 'metric_day' }, views)).toEqual({ kind: 'realtime', view: 'metric_day' });
  });

  it('names what is wrong with a request it refuses', () => {
    const refused = (event: unknown) => {
      try {
        rebuildRequest(event, views);
      } catch (error) {
        expect(error).toBeInstanceOf(RebuildRequestError);
        return (error as Error).message;
      }
      throw new Error('accepted');
    };
    expect(refused({ kind: 'compact', view: 'metric_day' })).toBe(
      'kind: expected "batch" or "realtime", got "compact"',
    );
    expect(refused({ kind: 'batch' })).toBe('view: required, a view name or "*" (got {"kind":"batch"})');
    expect(refused(null)).toBe('view: required, a view name or "*" (got null)');
    expect(refused({ kind: 'realtime', view: '*' })).toBe(
      'view: "*" rebuilds every batch view; replay views one by one',
    );
    expect(refused({ kind: 'batch', view: 'nope' })).toBe(
      'view: unknown view "nope" (known: device_metric_minute, site_metric_hour, metric_day)',
    );
  });

  it('stops starting work a margin before the invocation times out, and never sooner than a few seconds from now', () => {
    expect(continuationDeadline(1_000_000, 900_000)).toBe(1_000_000 + 900_000 - CONTINUATION_MARGIN_MS);
    expect(continuationDeadline(1_000_000, 10_000)).toBe(1_005_000);
  });
});
