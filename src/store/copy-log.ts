import type pg from 'pg';
import { to as copyTo } from 'pg-copy-streams';
import { decodeGroupEvent, GROUP_STREAMS_LIKE } from '../events/index.js';
import type { LoggedEvent } from './read-log.js';

export interface CopyLogOptions {
  /** Only this stream. */
  streamId?: string | undefined;
  /** Only streams whose id sorts at or after this one (in the database's order). */
  from?: string | undefined;
  /** Only streams whose id sorts before this one. */
  before?: string | undefined;
}

/**
 * Group events in (stream_id, version) order, read with one `COPY … TO STDOUT` on
 * `client` and handed on a network read at a time: no keyset batches (no round trip
 * between them) and no row objects from the driver, only the facts a fold needs. Run
 * it inside a REPEATABLE READ transaction (one whose snapshot others share, see
 * verifyProjection) to see the whole log as of one instant. Every payload is still
 * decoded by its event schema; an unreadable one fails the read.
 */
export async function* copyFactsInStreamOrder(client: pg.ClientBase, options: CopyLogOptions = {}): AsyncGenerator<LoggedEvent[]> {
  // COPY takes no parameters: the literals are escaped by the driver.
  const where = [
    options.streamId === undefined ? `stream_id like ${client.escapeLiteral(GROUP_STREAMS_LIKE)}` : `stream_id = ${client.escapeLiteral(options.streamId)}`,
  ];
  if (options.from !== undefined) where.push(`stream_id >= ${client.escapeLiteral(options.from)}`);
  if (options.before !== undefined) where.push(`stream_id < ${client.escapeLiteral(options.before)}`);
  const stream = client.query(
    copyTo(`copy (select stream_id, version, type, schema_version, data from events where ${where.join(' and ')} order by stream_id, version) to stdout`),
  );
  let rest: Buffer | undefined;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    const buffer = rest === undefined ? chunk : Buffer.concat([rest, chunk]);
    const end = buffer.lastIndexOf(NEWLINE);
    if (end < 0) {
      rest = buffer;
      continue;
    }
    rest = end + 1 < buffer.length ? buffer.subarray(end + 1) : undefined;
    // Only the newline byte ends a row (one inside a value comes escaped), so a
    // multi-byte character never straddles the cut.
    const lines = buffer.toString('utf8', 0, end).split('\n');
    yield lines.map(parseRow);
  }
  if (rest !== undefined && rest.length > 0) throw new Error('the event log COPY ended inside a row');
}

const NEWLINE = 0x0a;

function parseRow(line: string): LoggedEvent {
  const fields = line.split('\t');
  if (fields.length !== 5) throw new Error(`unexpected COPY row with ${fields.length} fields`);
  const [streamId, version, type, schemaVersion, data] = fields.map(unescapeCopyText) as [string, string, string, string, string];
  return { streamId, version: Number(version), event: decodeGroupEvent(type, Number(schemaVersion), JSON.parse(data)) };
}

const ESCAPES: Record<string, string> = { b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '\\': '\\' };

/** A value of COPY's text format as it was stored: backslash sequences undone (the common value has none). */
export function unescapeCopyText(field: string): string {
  if (!field.includes('\\')) return field;
  return field.replace(/\\(.)/g, (_, c: string) => {
    const plain = ESCAPES[c];
    if (plain === undefined) throw new Error(`unexpected escape \\${c} in COPY text`);
    return plain;
  });
}
