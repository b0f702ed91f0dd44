import { request } from 'node:http';
import fc from 'fast-check';
import type { BatchRunSummary } from '../../functions/batch/batch-job';
import { MAX_EVENT_TIME_MS } from '../../functions/core/event-limits';
import { bucketStart } from '../../functions/core/granularity';
import { DEFAULT_QUERY_LIMITS } from '../../functions/core/query-request';
import { firstRetainedBucket } from '../../functions/core/view-declaration';
import { MAX_ADVANCE_CLOCK_MS } from '../../local/dashboard-routes';
import type { LocalRuntime } from '../../local/local-runtime';
import { startTestRuntime, testRuntimeConfig } from '../support/test-runtime';

/**
 * The API through the local runtime's HTTP gateway over the emulators, fed random requests: every answer is a 2xx,
 * or a 4xx whose JSON body names the problem; never a 5xx, never a hang (DESIGN.md §7).
 */

let runtime: LocalRuntime<BatchRunSummary>;
let stop: () => Promise<void>;

beforeAll(async () => {
  ({ runtime, stop } = await startTestRuntime());
});

afterAll(() => stop());

/** Far above any answer of a healthy runtime, even on 2 busy cores; a request that takes longer has hung. */
const REQUEST_TIMEOUT_MS = 15_000;
/** Fixed counts, never a time budget, so that what is checked does not depend on the machine's speed. */
const RUNS = { numRuns: 200 };

const [deviceView] = testRuntimeConfig.views;
const PROTOTYPE_NAMES = ['constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf'] as const;

interface FuzzRequest {
  readonly method: string;
  /** The request target, sent as it is (no client normalises `..` or `%` here). */
  readonly target: string;
  /** Raw name/value pairs, in order, duplicates and `__proto__` included. */
  readonly headers: readonly (readonly [string, string])[];
  readonly body?: string;
}

interface Answer {
  readonly status: number;
  readonly contentType: string | undefined;
  readonly text: string;
}

/**
 * Sends the request with node:http, not fetch: fetch normalises `..` and `%2e` out of paths and drops a header
 * named `__proto__`, which are among the things to send.
 */
function send(fuzz: FuzzRequest): Promise<Answer> {
  const { hostname, port } = new URL(runtime.apiUrl);
  return new Promise((resolve, reject) => {
    const outgoing = request(
      {
        host: hostname,
        port,
        method: fuzz.method,
        path: fuzz.target,
        headers: fuzz.headers.flat(),
        agent: false,
        signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      },
      (incoming) => {
        const chunks: Buffer[] = [];
        incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
        incoming.on('error', reject);
        incoming.on('end', () =>
          resolve({
            status: incoming.statusCode ?? 0,
            contentType: incoming.headers['content-type'],
            text: Buffer.concat(chunks).toString('utf8'),
          }),
        );
      },
    );
    outgoing.on('error', reject);
    outgoing.end(fuzz.body);
  });
}

/** The error body of a 4xx, or a description of what is wrong with it. */
function errorOf(answer: Answer): { message: string; errors?: unknown } | string {
  if (answer.contentType?.startsWith('application/json') !== true) return `content-type ${answer.contentType}`;
  let body: unknown;
  try {
    body = JSON.parse(answer.text);
  } catch {
    return `not JSON: ${answer.text.slice(0, 200)}`;
  }
  if (typeof body !== 'object' || body === null || !('message' in body) || typeof body.message !== 'string') {
    return `no message: ${answer.text.slice(0, 200)}`;
  }
  return body as { message: string; errors?: unknown };
}

/**
 * The contract of every answer. A message names the problem as `<what>: <why>`: a parameter, a field, the path,
 * the method, the body, the request.
 */
function expectProperAnswer(fuzz: FuzzRequest, answer: Answer): void {
  const described = `${fuzz.method} ${fuzz.target.slice(0, 300)} → ${answer.status} ${answer.text.slice(0, 300)}`;
  if (answer.status >= 200 && answer.status < 300) return;
  if (answer.status < 400 || answer.status >= 500) throw new Error(`not a 2xx or 4xx: ${described}`);
  const error = errorOf(answer);
  if (typeof error === 'string') throw new Error(`4xx without a JSON error body (${error}): ${described}`);
  // The subject is a name (`to`, `from/to`, `no event accepted`) or, when it would not read as one, quoted JSON.
  if (!/^(?:"(?:[^"\\]|\\.)*"|[^:\s"][^:]*): \S/.test(error.message)) {
    throw new Error(`message does not name the problem: ${described}`);
  }
  if (error.errors !== undefined) {
    const errors = error.errors;
    if (!Array.isArray(errors) || errors.length === 0 || !errors.every((item) => typeof item === 'string')) {
      throw new Error(`errors is not a list of messages: ${described}`);
    }
  }
}

// ---- Arbitraries -------------------------------------------------------------------------------------------------

/** Mostly what is valid, sometimes anything else: a request wrong in one place reaches deeper than one wrong everywhere. */
const mostly = <T, U>(valid: fc.Arbitrary<T>, other: fc.Arbitrary<U>) =>
  fc.oneof({ weight: 4, arbitrary: valid }, { weight: 1, arbitrary: other });

/** Percent-encodes every UTF-8 byte but the unreserved ones (a lone surrogate becomes U+FFFD's bytes). */
function percentEncode(text: string): string {
  return [...Buffer.from(text, 'utf8')]
    .map((byte) => {
      const char = String.fromCharCode(byte);
      return /[A-Za-z0-9\-._~]/.test(char) ? char : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
    })
    .join('');
}

/** Text in any script, with emoji, control characters and lone surrogates. */
const anyText = (maxLength: number) => fc.string({ unit: 'binary', maxLength });

/** Pieces a client may send unencoded, `%` sequences that are not valid percent-encoded UTF-8 among them. */
const rawPiece = fc.constantFrom(
  '%',
  '%Z',
  '%ZZ',
  '%C0%AF',
  '%E2%82',
  '%FF',
  '%00',
  '%2e%2e',
  '%2F',
  '%25',
  '..',
  '.',
  '~',
  "'",
  '(',
  '*',
  '@',
  ':',
  ';',
  '=',
  '$',
  ',',
  '+',
  '!',
  '%F0%9F%98%80',
  '%ED%A0%80',
);

const pathSegment = fc.oneof(
  { weight: 3, arbitrary: anyText(20).map(percentEncode) },
  { weight: 3, arbitrary: fc.array(rawPiece, { minLength: 1, maxLength: 6 }).map((pieces) => pieces.join('')) },
  { weight: 1, arbitrary: fc.integer({ min: 257, max: 6_000 }).map((length) => 'x'.repeat(length)) },
  { weight: 1, arbitrary: fc.constantFrom(...PROTOTYPE_NAMES, 'views', deviceView.name, 'events') },
);

const path = fc.oneof(
  {
    weight: 4,
    arbitrary: fc.constantFrom(
      '/',
      '/dashboard',
      '/views',
      ...testRuntimeConfig.views.map((view) => `/views/${view.name}`),
      '/events',
      '/openapi.json',
      '/_local/status',
      '/_local/batch-runs',
    ),
  },
  { weight: 2, arbitrary: pathSegment.map((segment) => `/views/${segment}`) },
  {
    weight: 2,
    arbitrary: fc.array(pathSegment, { maxLength: 4 }).map((segments) => `/${segments.join('/')}`),
  },
);

/** Times as a query may give them: in range, at and past either end, huge, negative, not numbers. */
const timeText = fc.oneof(
  fc.integer({ min: 0, max: MAX_EVENT_TIME_MS }).map(String),
  fc.bigInt({ min: -(10n ** 30n), max: 10n ** 30n }).map(String),
  fc.date({ min: new Date(0), max: new Date(MAX_EVENT_TIME_MS), noInvalidDate: true }).map((d) => d.toISOString()),
  fc.constantFrom(
    '0',
    String(MAX_EVENT_TIME_MS),
    String(MAX_EVENT_TIME_MS + 1),
    '8640000000000001',
    '-1',
    '-0',
    '1e3',
    '1.5',
    'NaN',
    'Infinity',
    '',
    ' 1',
    '0x10',
    '9'.repeat(400),
    '+275760-09-13T00:00:00.000Z',
    '9999-12-31T23:59:59-01:00',
    '0000-01-01T00:00:00Z',
    '2026-13-45T99:99:99Z',
  ),
  anyText(12),
);

const queryName = fc.oneof(
  fc.constantFrom(...PROTOTYPE_NAMES, 'deviceId', 'metric', 'site', 'from', 'to', 'granularity', 'advanceClockMs', ''),
  anyText(12),
);

const queryValue = fc.oneof(
  { weight: 3, arbitrary: timeText },
  { weight: 2, arbitrary: fc.constantFrom(' pad ', 'pad ', '\tx', '', ',', 'a,b', 'a,,b', 'minute', 'hour', 'day') },
  { weight: 3, arbitrary: anyText(30) },
  { weight: 1, arbitrary: fc.integer({ min: 257, max: 3_000 }).map((length) => 'v'.repeat(length)) },
);

const queryPart = (text: fc.Arbitrary<string>) =>
  fc.oneof({ weight: 4, arbitrary: text.map(percentEncode) }, { weight: 1, arbitrary: rawPiece });

const queryPairs = (maxLength: number) =>
  fc.array(fc.tuple(queryPart(queryName), queryPart(queryValue)), { maxLength });

function queryString(pairs: readonly (readonly [string, string])[]): string {
  return pairs.length === 0 ? '' : `?${pairs.map(([name, value]) => `${name}=${value}`).join('&')}`;
}

/** Dimension values: ones that can be stored, ones ingest refuses (white space at an end, empty, too long), any. */
const dimensionValue = mostly(
  fc.constantFrom('fuzz-device', 'fuzz-site', 'fuzz-metric', 'a,b', 'a b', 'ü|x', '%', '😀'),
  fc.oneof(fc.constantFrom(' pad ', 'pad ', '\tx', '', ',', 'a,,b', 'x'.repeat(257)), anyText(20)),
);

/** A query of a view as a client would write one, with each parameter possibly wrong, missing, repeated or extra. */
const viewQuery = fc
  .record({
    view: fc.oneof(
      { weight: 5, arbitrary: fc.constantFrom(...testRuntimeConfig.views) },
      { weight: 1, arbitrary: fc.constant(undefined) },
    ),
    otherView: pathSegment,
    dimensions: fc.array(mostly(fc.array(dimensionValue, { minLength: 1, maxLength: 2 }), fc.constant(null)), {
      minLength: 3,
      maxLength: 3,
    }),
    from: mostly(fc.constant(null), timeText),
    to: mostly(fc.constant(null), timeText),
    granularity: mostly(fc.constant(null), fc.constantFrom('minute', 'hour', 'day', 'second', '', 'constructor')),
    extra: mostly(fc.constant([]), queryPairs(2)),
  })
  .map(({ view, otherView, dimensions, from, to, granularity, extra }) => {
    const pairs: [string, string][] = [];
    (view?.dimensions ?? []).forEach((field, index) => {
      for (const value of dimensions[index] ?? []) pairs.push([field, percentEncode(value)]);
    });
    for (const [name, value] of [
      ['from', from],
      ['to', to],
      ['granularity', granularity],
    ] as const) {
      if (value !== null) pairs.push([name, percentEncode(value)]);
    }
    return `/views/${view?.name ?? otherView}${queryString([...pairs, ...extra])}`;
  });

/** Header names a client sends that change how the message is framed or routed: not what this test is about. */
const FRAMING_HEADERS = new Set([
  'host',
  'content-length',
  'transfer-encoding',
  'connection',
  'expect',
  'upgrade',
  'te',
  'trailer',
  'keep-alive',
]);
const TOKEN_CHARS = "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz".split('');
const headerName = fc
  .oneof(
    fc.constantFrom(...PROTOTYPE_NAMES, 'X-Api-Key', 'content-type', 'accept', 'user-agent', 'authorization', 'cookie'),
    fc.string({ unit: fc.constantFrom(...TOKEN_CHARS), minLength: 1, maxLength: 20 }),
  )
  .filter((name) => !FRAMING_HEADERS.has(name.toLowerCase()));
/** What HTTP allows in a header value: tab, visible ASCII, space, and obs-text bytes. */
const headerValue = fc.string({
  unit: fc
    .oneof(fc.integer({ min: 0x20, max: 0x7e }), fc.integer({ min: 0x80, max: 0xff }), fc.constant(0x09))
    .map((code) => String.fromCharCode(code)),
  maxLength: 40,
});

const EVENT_FIELDS = ['eventId', 'deviceId', 'site', 'metric', 'value', 'ts'] as const;

/** Events with each field valid or not, some fields missing, and extra fields that are prototype names or deep. */
const eventLike = fc
  .record({
    fields: fc.record({
      eventId: mostly(fc.uuid(), fc.oneof(anyText(10), fc.constant(' pad '))),
      deviceId: mostly(
        fc.constant('fuzz-device'),
        fc.oneof(fc.constantFrom(' pad ', '', 'x'.repeat(300)), anyText(10)),
      ),
      site: mostly(fc.constant('fuzz-site'), anyText(10)),
      metric: mostly(fc.constant('fuzz-metric'), anyText(10)),
      value: mostly(fc.integer(), fc.oneof(fc.double(), fc.constantFrom('1', null, 1e300, -1e-300))),
      ts: mostly(
        fc.integer({ min: -3_600_000, max: 0 }).map((offset) => Date.now() + offset),
        fc.oneof(fc.integer({ min: -(2 ** 53), max: 2 ** 53 }), timeText, fc.constantFrom(null, 8_640_000_000_000_001)),
      ),
    }),
    missing: mostly(fc.constant([]), fc.subarray([...EVENT_FIELDS], { maxLength: 2 })),
    extra: fc.oneof(
      { weight: 4, arbitrary: fc.constant(undefined) },
      {
        weight: 1,
        arbitrary: fc.constantFrom(...PROTOTYPE_NAMES).map((name) => `${JSON.stringify(name)}:{"deviceId":"x"}`),
      },
      {
        weight: 1,
        arbitrary: fc
          .integer({ min: 1, max: 3_000 })
          .map((depth) => `"extra":${'['.repeat(depth)}${']'.repeat(depth)}`),
      },
    ),
  })
  .map(({ fields, missing, extra }) => {
    const text = JSON.stringify(
      Object.fromEntries(Object.entries(fields).filter(([name]) => !(missing as string[]).includes(name))),
    );
    // Spliced into the text: an own "__proto__" key must reach the handler, and an object literal would lose it.
    if (extra === undefined) return text;
    return `${text.slice(0, -1)}${text === '{}' ? '' : ','}${extra}}`;
  });

const body = fc.option(
  fc.oneof(
    fc.jsonValue({ maxDepth: 4 }).map((value) => JSON.stringify(value)),
    fc.constantFrom('"x"', '1', 'null', 'true', '[]', '{}', '[1]', '[null]', '{"__proto__":{"deviceId":"x"}}', ''),
    anyText(200),
    fc.integer({ min: 1, max: 20_000 }).map((depth) => `${'['.repeat(depth)}${']'.repeat(depth)}`),
    fc.integer({ min: 1, max: 5_000 }).map((depth) => `${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}`),
    { weight: 3, arbitrary: eventLike },
    {
      weight: 3,
      arbitrary: fc.array(eventLike, { minLength: 1, maxLength: 3 }).map((events) => `[${events.join(',')}]`),
    },
  ),
  { nil: undefined },
);

const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'] as const;

/** Most requests go where the API answers, with the method it takes; the rest anywhere, with any method. */
const target = fc.oneof(
  { weight: 3, arbitrary: fc.record({ method: fc.constant('GET'), target: viewQuery }) },
  { weight: 2, arbitrary: fc.record({ method: fc.constant('POST'), target: fc.constant('/events') }) },
  {
    weight: 3,
    arbitrary: fc.record({
      method: fc.constantFrom(...METHODS),
      target: fc.tuple(path, queryPairs(6)).map(([base, pairs]) => `${base}${queryString(pairs)}`),
    }),
  },
);

const fuzzRequest: fc.Arbitrary<FuzzRequest> = fc
  .record({
    target,
    headers: fc.array(fc.tuple(headerName, headerValue), { maxLength: 6 }),
    body,
    // Above Node's 16 KB header limit: the gateway answers 431 with a JSON body.
    oversized: fc.oneof(
      { weight: 30, arbitrary: fc.constant(null) },
      { weight: 1, arbitrary: fc.integer({ min: 17_000, max: 21_000 }) },
    ),
  })
  .map(({ target: { method, target: base }, headers, body: text, oversized }) => {
    const sent = method === 'GET' ? undefined : text;
    return {
      // A forced batch run is a DuckDB job that takes seconds: its parameter is checked below, not fuzzed here.
      method: method === 'POST' && base.startsWith('/_local/batch-runs') ? 'GET' : method,
      target: oversized === null ? base : `${base}${base.includes('?') ? '&' : '?'}q=${'q'.repeat(oversized)}`,
      // With its length, so that a DELETE or OPTIONS body is framed (Node's client would send it bare).
      headers: [
        ['host', 'local'] as const,
        ...(sent === undefined ? [] : [['content-length', String(Buffer.byteLength(sent))] as const]),
        ...headers,
      ],
      body: sent,
    };
  });

// ---- Properties --------------------------------------------------------------------------------------------------

describe('the API through the local gateway, fed random requests', () => {
  it('answers every request with a 2xx, or a 4xx whose JSON body names the problem; never a 5xx, never a hang', async () => {
    await fc.assert(
      fc.asyncProperty(fuzzRequest, async (fuzz) => expectProperAnswer(fuzz, await send(fuzz))),
      RUNS,
    );
  });

  it('answers from/to within 1970..9999, a range within the limits and a from within retention, and refuses any other with a 400 naming from, to or from/to', async () => {
    const givenTime = fc.record({ from: fc.option(timeText, { nil: undefined }), to: timeText });
    await fc.assert(
      fc.asyncProperty(givenTime, async ({ from, to }) => {
        const times = [from === undefined ? '' : `&from=${percentEncode(from)}`, `&to=${percentEncode(to)}`].join('');
        const fuzz: FuzzRequest = {
          method: 'GET',
          target: `/views/${deviceView.name}?deviceId=fuzz-device&metric=fuzz-metric${times}`,
          headers: [['host', 'local']],
        };
        // Retention is counted back from the handler's clock, read between these two: either answer may be right.
        const before = Date.now();
        const answer = await send(fuzz);
        const after = Date.now();
        expectProperAnswer(fuzz, answer);
        const actual =
          answer.status === 200
            ? { status: 200, range: pick(JSON.parse(answer.text) as object, ['from', 'to']) }
            : {
                status: answer.status,
                named: (JSON.parse(answer.text) as { errors: string[] }).errors.map((error) => error.split(':')[0]),
              };
        expect([expectedTimeAnswer(from, to, before), expectedTimeAnswer(from, to, after)]).toContainEqual(actual);
      }),
      RUNS,
    );
  });
});

describe('bad requests named in the brief, answered through the local runtime', () => {
  const get = async (target: string, headers: [string, string][] = []) => {
    const answer = await send({ method: 'GET', target, headers: [['host', 'local'], ...headers] });
    return { status: answer.status, error: errorOf(answer) };
  };
  const query = `/views/${deviceView.name}?deviceId=fuzz-device&metric=fuzz-metric`;

  it('answers a path that is not valid percent-encoded UTF-8 with a 400 naming the path', async () => {
    for (const target of ['/views/%', '/views/%ZZ', '/views/%C0%AF']) {
      expect(await get(target)).toMatchObject({
        status: 400,
        error: { message: expect.stringMatching(new RegExp(`^path: "${target}" is not valid percent-encoded UTF-8`)) },
      });
    }
  });

  it('answers query parameters and headers named like Object.prototype members with a 400 naming each parameter', async () => {
    const answer = await get(`${query}&${PROTOTYPE_NAMES.map((name) => `${name}=1`).join('&')}`, [
      ...PROTOTYPE_NAMES.map((name): [string, string] => [name, 'x']),
    ]);
    expect(answer.status).toBe(400);
    expect(typeof answer.error !== 'string' && (answer.error.errors as string[]).map((e) => e.split(':')[0])).toEqual([
      ...PROTOTYPE_NAMES,
    ]);
    // The same headers on a good query are passed through and ignored.
    expect((await get(query, [...PROTOTYPE_NAMES.map((name): [string, string] => [name, 'x'])])).status).toBe(200);
  });

  it('answers to=8640000000000001 with a 400 naming to and the range', async () => {
    expect(await get(`${query}&to=8640000000000001`)).toMatchObject({
      status: 400,
      error: {
        message:
          'to: expected a time from 1970-01-01T00:00:00.000Z to 9999-12-31T23:59:59.999Z ' +
          '(epoch ms 0 to 253402300799999), got "8640000000000001"',
      },
    });
  });

  it("answers a from past the view's retention with a 400 naming the views that still cover the range", async () => {
    expect(deviceView.retentionDays).toBe(30);
    const from = Date.now() - 40 * DAY_MS;
    const range = `&from=${from}&to=${from + 3_600_000}`;
    const answer = await get(`${query}${range}`);
    expect(answer).toMatchObject({
      status: 400,
      error: {
        message: expect.stringMatching(
          /^from: device_metric_minute keeps 30 days of minute buckets, from \S+; \S+ is past its retention\. Views that cover it: site_metric_hour \(hour buckets by site, metric, 400 days\); metric_day \(day buckets by metric, kept for ever\)\.$/,
        ),
      },
    });
    expect(typeof answer.error !== 'string' && answer.error.errors).toHaveLength(1);
    // The views it names answer the same range.
    expect((await get(`/views/site_metric_hour?site=fuzz-site&metric=fuzz-metric${range}`)).status).toBe(200);
    expect((await get(`/views/metric_day?metric=fuzz-metric${range}`)).status).toBe(200);
  });

  it('answers a 20 KB query string with a 431 and a JSON body naming the problem', async () => {
    expect(await get(`${query}&x=${'a'.repeat(20 * 1024)}`)).toMatchObject({
      status: 431,
      error: { message: expect.stringMatching(/^request: the request line and headers are above the limit/) },
    });
  });

  it('answers a dimension value with white space at either end with a 400 naming the parameter, untrimmed', async () => {
    expect(await get(`/views/${deviceView.name}?deviceId=%20pad%20&metric=fuzz-metric`)).toMatchObject({
      status: 400,
      error: { message: 'deviceId: expected no white space at the start or end, got " pad "' },
    });
  });

  it('answers a forced batch run whose advanceClockMs is not whole milliseconds within a year with a 400 naming it', async () => {
    for (const advance of ['1e300', '-1', '0x10', '', String(MAX_ADVANCE_CLOCK_MS + 1)]) {
      const answer = await send({
        method: 'POST',
        target: `/_local/batch-runs?advanceClockMs=${advance}`,
        headers: [['host', 'local']],
      });
      expect({ status: answer.status, error: errorOf(answer) }).toMatchObject({
        status: 400,
        error: { message: expect.stringMatching(/^advanceClockMs: expected whole milliseconds from 0 to /) },
      });
    }
  });
});

// ---- The oracle of the from/to property --------------------------------------------------------------------------

const DAY_MS = 86_400_000;
const MINUTE_MS = 60_000;

/** Epoch ms for a time the API must take, undefined for one it must refuse (what parseViewQuery documents). */
function timeOf(text: string): number | undefined {
  if (/^-?\d+$/.test(text)) {
    const ms = Number(text);
    return ms >= 0 && ms <= MAX_EVENT_TIME_MS ? ms : undefined;
  }
  // The ISO texts this test takes as valid are exactly what toISOString writes for a date in range.
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/.test(text)) {
    const ms = Date.parse(text);
    return Number.isFinite(ms) && new Date(ms).toISOString() === text && ms <= MAX_EVENT_TIME_MS ? ms : undefined;
  }
  return undefined;
}

function expectedTimeAnswer(
  fromText: string | undefined,
  toText: string,
  nowMs: number,
): { status: 200; range: { from: string; to: string } } | { status: 400; named: string[] } {
  const to = timeOf(toText);
  const from = fromText === undefined ? undefined : timeOf(fromText);
  const named = [
    ...(to === undefined ? ['to'] : []),
    ...(fromText !== undefined && from === undefined ? ['from'] : []),
  ];
  if (to === undefined || named.length > 0) return { status: 400, named };
  const start = from ?? Math.max(0, to - DAY_MS);
  if (start >= to) return { status: 400, named: ['from'] };
  // One key: above the per-key limit is one error, above the per-request limit too is a second.
  const buckets = (bucketStart(to - 1, 'minute') - bucketStart(start, 'minute')) / MINUTE_MS + 1;
  const overLimits = [
    buckets > DEFAULT_QUERY_LIMITS.maxBucketsPerKey,
    buckets > DEFAULT_QUERY_LIMITS.maxBuckets,
  ].filter(Boolean);
  if (overLimits.length > 0) return { status: 400, named: overLimits.map(() => 'from/to') };
  // Checked once the parameters are valid: a bucket is kept while it starts at or after now - retention.
  if (bucketStart(start, 'minute') < firstRetainedBucket(deviceView, nowMs)) return { status: 400, named: ['from'] };
  return {
    status: 200,
    range: { from: new Date(bucketStart(start, 'minute')).toISOString(), to: new Date(to).toISOString() },
  };
}

function pick(object: object, keys: readonly string[]): Record<string, unknown> {
  return Object.fromEntries(Object.entries(object).filter(([key]) => keys.includes(key)));
}
