import { parseEventJson, type EventArrival, type EventParseResult } from './event-schema';

/** The magic bytes of a KPL aggregated record, which neither layer de-aggregates. */
const KPL_MAGIC = Buffer.from([0xf3, 0x89, 0x9a, 0xc2]);
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Decodes and validates the event in a Kinesis record's base64 data. The speed layer and the Firehose transform
 * both call this, so that a record one layer rejects the other rejects too, with the same reason.
 */
export function decodeKinesisPayload(data: unknown, arrival: EventArrival): EventParseResult {
  if (typeof data !== 'string' || !BASE64.test(data)) return { ok: false, errors: ['data: not valid base64'] };
  const bytes = Buffer.from(data, 'base64');
  if (bytes.subarray(0, KPL_MAGIC.length).equals(KPL_MAGIC)) {
    return { ok: false, errors: ['KPL aggregated records are not supported'] };
  }
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    return { ok: false, errors: ['data: not valid UTF-8'] };
  }
  return parseEventJson(text, arrival);
}
