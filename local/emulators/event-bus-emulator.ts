import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { RunningEmulator } from './running-emulator';
import { listenOnLoopback } from './free-port';

/** An event the stand-in bus accepted, as a rule's target would receive it. */
export interface RecordedBusEvent {
  readonly id: string;
  /** The bus name (an ARN is reduced to its name); 'default' when the entry names none. */
  readonly eventBusName: string;
  readonly source: string;
  readonly detailType: string;
  /** The entry's Detail, parsed. */
  readonly detail: unknown;
  /** The entry's Time, or when it was put: ISO-8601. */
  readonly time: string;
}

export interface EventBusEmulator extends RunningEmulator {
  /** The events accepted so far, oldest first (the latest `capacity` of them). */
  events(): readonly RecordedBusEvent[];
}

export interface EventBusOptions {
  /** Events kept; the oldest are dropped beyond it, so a long `npm start` session stays bounded. @default 10_000 */
  readonly capacity?: number;
}

/** PutEvents' limits: entries per request, and bytes of an entry (AWS counts the whole entry; Detail is most of it). */
const MAX_ENTRIES = 10;
const MAX_ENTRY_BYTES = 256 * 1024;
/** A request body past this is refused unread: no legal PutEvents request comes near it. */
const MAX_BODY_BYTES = MAX_ENTRIES * MAX_ENTRY_BYTES + 64 * 1024;

const TARGET_PREFIX = 'AWSEvents.';
const CONTENT_TYPE = 'application/x-amz-json-1.1';

/**
 * The local stand-in for EventBridge, as local/event-source-mapping.ts stands in for the event source mapping: an
 * HTTP server on 127.0.0.1 speaking the AWS JSON 1.1 protocol of `AWSEvents.PutEvents`, so that the real
 * EventBridgeClient publishes to it unchanged. It keeps what it accepts for the dashboard and the tests to read;
 * there are no rules or targets. Entries are checked as EventBridge checks them (Source, DetailType and a Detail
 * that is a JSON object), and a refused entry is reported in the response as EventBridge reports it; a malformed
 * request, or any other operation, gets an AWS-style error that the SDK raises as an exception.
 */
export async function startEventBus(options: EventBusOptions = {}): Promise<EventBusEmulator> {
  const capacity = options.capacity ?? 10_000;
  if (!Number.isInteger(capacity) || capacity < 1) throw new Error('event bus: capacity must be a positive integer');
  const recorded: RecordedBusEvent[] = [];
  const server = createServer((request, response) => {
    handle(request, response, (events) => {
      recorded.push(...events);
      if (recorded.length > capacity) recorded.splice(0, recorded.length - capacity);
    }).catch((error: unknown) => {
      if (!response.headersSent) reply(response, 500, awsError('InternalException', (error as Error).message));
      else response.destroy();
    });
  });
  const port = await listenOnLoopback(server, 'the event bus');
  let stopped: Promise<void> | undefined;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    events: () => [...recorded],
    stop: () =>
      (stopped ??= new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        // Keep-alive sockets of clients that were never destroyed would hold close() open.
        server.closeAllConnections();
      })),
  };
}

interface ErrorBody {
  readonly status: number;
  readonly body: { readonly __type: string; readonly message: string };
}

function awsError(type: string, message: string, status = 400): ErrorBody {
  return { status, body: { __type: type, message } };
}

async function handle(
  request: IncomingMessage,
  response: ServerResponse,
  record: (events: readonly RecordedBusEvent[]) => void,
): Promise<void> {
  const target = request.headers['x-amz-target'];
  if (request.method !== 'POST' || typeof target !== 'string' || !target.startsWith(TARGET_PREFIX)) {
    const error = awsError('UnknownOperationException', 'this stand-in speaks the AWSEvents JSON 1.1 protocol');
    return reply(response, error.status, error);
  }
  const operation = target.slice(TARGET_PREFIX.length);
  if (operation !== 'PutEvents') {
    const error = awsError('UnknownOperationException', `${operation} is not supported by the local event bus`);
    return reply(response, error.status, error);
  }
  const body = await readBody(request);
  if (body === undefined) {
    const error = awsError('ValidationException', `the request body exceeds ${MAX_BODY_BYTES} bytes`, 413);
    return reply(response, error.status, error);
  }
  const result = putEvents(body);
  if ('status' in result) return reply(response, result.status, result);
  record(result.accepted);
  return reply(response, 200, { body: result.response });
}

/** PutEvents: a request error, or the per-entry results and the events accepted. */
function putEvents(body: string):
  | ErrorBody
  | {
      readonly accepted: RecordedBusEvent[];
      readonly response: { FailedEntryCount: number; Entries: Record<string, string>[] };
    } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    return awsError('SerializationException', 'the request body is not JSON');
  }
  const entries = (parsed as { Entries?: unknown } | null)?.Entries;
  if (!Array.isArray(entries) || entries.length < 1 || entries.length > MAX_ENTRIES) {
    return awsError(
      'ValidationException',
      `1 validation error detected: Value at 'entries' failed to satisfy constraint: ` +
        `Member must have length between 1 and ${MAX_ENTRIES}, and be a list`,
    );
  }
  const accepted: RecordedBusEvent[] = [];
  const results = entries.map((entry: unknown): Record<string, string> => {
    const checked = checkEntry(entry);
    if ('ErrorCode' in checked) return checked;
    accepted.push(checked);
    return { EventId: checked.id };
  });
  const failed = results.filter((result) => 'ErrorCode' in result).length;
  return { accepted, response: { FailedEntryCount: failed, Entries: results } };
}

/** One entry: the event it becomes, or EventBridge's code and message for why it is refused. */
function checkEntry(entry: unknown): RecordedBusEvent | { ErrorCode: string; ErrorMessage: string } {
  const refuse = (ErrorCode: string, ErrorMessage: string) => ({ ErrorCode, ErrorMessage });
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) {
    return refuse('InvalidArgument', 'An entry must be an object.');
  }
  const { Source, DetailType, Detail, EventBusName, Time } = entry as Record<string, unknown>;
  if (typeof Source !== 'string' || Source.length === 0) {
    return refuse('InvalidArgument', 'Parameter Source is not valid. Reason: Source is a required argument.');
  }
  if (typeof DetailType !== 'string' || DetailType.length === 0) {
    return refuse('InvalidArgument', 'Parameter DetailType is not valid. Reason: DetailType is a required argument.');
  }
  if (typeof Detail !== 'string' || Detail.length === 0) {
    return refuse('InvalidArgument', 'Parameter Detail is not valid. Reason: Detail is a required argument.');
  }
  if (Buffer.byteLength(Detail, 'utf8') > MAX_ENTRY_BYTES) {
    return refuse('InvalidArgument', `The entry exceeds ${MAX_ENTRY_BYTES} bytes.`);
  }
  let detail: unknown;
  try {
    detail = JSON.parse(Detail);
  } catch {
    return refuse('MalformedDetail', 'Detail is malformed.');
  }
  if (typeof detail !== 'object' || detail === null || Array.isArray(detail)) {
    return refuse('MalformedDetail', 'Detail is malformed.');
  }
  if (EventBusName !== undefined && (typeof EventBusName !== 'string' || EventBusName.length === 0)) {
    return refuse('InvalidArgument', 'Parameter EventBusName is not valid.');
  }
  // The JSON protocol sends a timestamp as epoch seconds.
  const timeMs = typeof Time === 'number' && Number.isFinite(Time) ? Time * 1000 : Date.now();
  return {
    id: randomUUID(),
    eventBusName: busNameOf(EventBusName ?? 'default'),
    source: Source,
    detailType: DetailType,
    detail,
    time: new Date(timeMs).toISOString(),
  };
}

/** `arn:aws:events:region:account:event-bus/name` → `name`; a name stays as it is. */
function busNameOf(nameOrArn: string): string {
  const match = /^arn:[^:]+:events:[^:]*:[^:]*:event-bus\/(.+)$/.exec(nameOrArn);
  return match?.[1] ?? nameOrArn;
}

/**
 * The body as text, or undefined when it is longer than MAX_BODY_BYTES: the rest is then read and dropped, so that
 * the error can still be sent on the connection.
 */
async function readBody(request: IncomingMessage): Promise<string | undefined> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size <= MAX_BODY_BYTES) chunks.push(chunk);
  }
  return size > MAX_BODY_BYTES ? undefined : Buffer.concat(chunks).toString('utf8');
}

function reply(response: ServerResponse, status: number, { body }: { readonly body: unknown }): void {
  const text = JSON.stringify(body);
  const type = (body as { __type?: unknown }).__type;
  response.writeHead(status, {
    'content-type': CONTENT_TYPE,
    'content-length': Buffer.byteLength(text),
    'x-amzn-requestid': randomUUID(),
    ...(typeof type === 'string' ? { 'x-amzn-errortype': type } : {}),
  });
  response.end(text);
}
