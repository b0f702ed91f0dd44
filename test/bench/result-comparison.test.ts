import {
  cellRatio,
  compareTables,
  describeComparison,
  labelColumns,
  latestComparable,
  parseResult,
  parseResultFileName,
  type ResultTable,
} from '../../bench/result-comparison';

/** A result file as report.ts writes it. */
function result(options: { cpu?: string; tables: string[] }): string {
  return [
    '# speed',
    '',
    'What the benchmark measures.',
    '',
    '```',
    'date: 2026-12-03T01:25:24.644Z',
    ...(options.cpu === undefined ? [] : [`cpu: ${options.cpu}`]),
    'memory: 23.5 GiB',
    '```',
    '',
    ...options.tables,
    '',
    '- A note.',
    '',
  ].join('\n');
}

const XEON = 'Intel(R) Xeon(R) Processor × 2';
const EPYC = 'AMD EPYC × 2';

const speedTable = (rows: string[]) =>
  ['| batch size | consumer | events/s | p50 ms | exact |', '| --- | --- | --- | --- | --- |', ...rows].join('\n');

describe('parseResult', () => {
  it('reads the machine kind from the cpu line, and every table under its ## title', () => {
    const parsed = parseResult(
      result({
        cpu: XEON,
        tables: [speedTable(['| 100 | naive | 70 | 1428 | no |']), '', '## Section', '', '| a | b |', '| --- | --- |'],
      }),
    );
    expect(parsed.machineKind).toBe(XEON);
    expect(parsed.tables).toEqual([
      {
        title: '',
        header: ['batch size', 'consumer', 'events/s', 'p50 ms', 'exact'],
        rows: [['100', 'naive', '70', '1428', 'no']],
      },
      { title: 'Section', header: ['a', 'b'], rows: [] },
    ]);
  });

  it('has no machine kind for a result written without a cpu line', () => {
    expect(parseResult(result({ tables: [] })).machineKind).toBeUndefined();
  });
});

describe('parseResultFileName', () => {
  it('splits DATE-BENCH.md, bench names with dashes included, and ignores other files', () => {
    expect(parseResultFileName('2026-12-03-sketch-query-latency.md')).toEqual({
      date: '2026-12-03',
      bench: 'sketch-query-latency',
    });
    expect(parseResultFileName('README.md')).toBeUndefined();
  });
});

describe('cellRatio', () => {
  it('divides new by old for plain numbers, numbers with thousands commas, and numbers in the same unit', () => {
    expect(cellRatio('50', '100')).toBe(0.5);
    expect(cellRatio('14,571', '14,571')).toBe(1);
    expect(cellRatio('29,142', '14,571')).toBe(2);
    expect(cellRatio('418 items/s', '209 items/s')).toBe(2);
    expect(cellRatio('84.4×', '42.2×')).toBe(2);
  });

  it('has no ratio for words, different units, numbers with other numbers after them, or from 0 to non-0', () => {
    expect(cellRatio('yes', 'yes')).toBeUndefined();
    expect(cellRatio('', '')).toBeUndefined();
    expect(cellRatio('18352 items', '1.8 MiB scanned')).toBeUndefined();
    expect(cellRatio('2.8 (2.0 + 0.8)', '3.9 (2.6 + 1.3)')).toBeUndefined();
    expect(cellRatio('0.003', '0.000')).toBeUndefined();
  });

  it('is 1 for an unchanged 0', () => {
    expect(cellRatio('0.000', '0.000')).toBe(1);
  });
});

const table = (header: string[], rows: string[][]): ResultTable => ({ title: '', header, rows });

describe('labelColumns', () => {
  it('is the fewest leading cells that tell the rows of both tables apart', () => {
    const rows = [
      ['100', 'speed layer', '1'],
      ['100', 'naive', '2'],
      ['1000', 'speed layer', '3'],
    ];
    const header = ['batch size', 'consumer', 'events/s'];
    expect(labelColumns(table(header, rows), table(header, rows))).toBe(2);
    expect(labelColumns(table(header, rows.slice(0, 1)), table(header, rows.slice(2)))).toBe(0);
  });

  it('is undefined when two rows are the same', () => {
    const rows = [
      ['1', '2'],
      ['1', '2'],
    ];
    expect(labelColumns(table(['a', 'b'], rows), table(['a', 'b'], rows))).toBeUndefined();
  });
});

describe('compareTables', () => {
  const header = ['batch size', 'consumer', 'events/s', 'p50 ms', 'exact'];

  it('gives new ÷ old for the numbers of the rows in both, keeps the row labels, and drops columns without numbers', () => {
    const latest = table(header, [
      ['100', 'speed layer', '200', '100', 'yes'],
      ['100', 'key directory on', '300', '90', 'yes'],
      ['100', 'naive', '50', '0', 'no'],
    ]);
    const earlier = table(header, [
      ['100', 'naive', '100', '400', 'no'],
      ['100', 'speed layer', '400', '50', 'yes'],
    ]);
    expect(compareTables(latest, earlier)).toEqual([
      '| batch size | consumer | events/s | p50 ms |',
      '| --- | --- | --- | --- |',
      '| 100 | speed layer | 0.50 | 2.00 |',
      '| 100 | naive | 0.50 | 0.00 |',
      '',
      '1 row(s) with no counterpart in the earlier result are left out.',
    ]);
  });

  it('compares every number of a one-row table, the first cell included', () => {
    const latest = table(['p50 ms', 'p99 ms'], [['786', '908']]);
    const earlier = table(['p50 ms', 'p99 ms'], [['393', '908']]);
    expect(compareTables(latest, earlier)).toEqual(['| p50 ms | p99 ms |', '| --- | --- |', '| 2.00 | 1.00 |']);
  });

  it('marks a number with no ratio with a dash', () => {
    const header = ['consumer', 'reads / event'];
    const latest = table(header, [
      ['a', '0.003'],
      ['b', '0.003'],
    ]);
    const earlier = table(header, [
      ['a', '0.006'],
      ['b', '0.000'],
    ]);
    expect(compareTables(latest, earlier)).toEqual([
      '| consumer | reads / event |',
      '| --- | --- |',
      '| a | 0.50 |',
      '| b | – |',
    ]);
  });

  it('is undefined when no number of the table compares', () => {
    const header = ['consumer', 'reads / event'];
    expect(compareTables(table(header, [['a', '0.003']]), table(header, [['a', '0.000']]))).toBeUndefined();
  });
});

describe('latestComparable', () => {
  const latest = { file: '2026-12-03-speed.md', markdown: result({ cpu: XEON, tables: ['new'] }) };

  it('is the latest earlier result of the same benchmark on the same machine kind, same day included', () => {
    const stored = [
      { file: '2026-12-02-speed.md', markdown: result({ cpu: XEON, tables: ['a'] }) },
      { file: '2026-12-03-speed.md', markdown: result({ cpu: XEON, tables: ['earlier today'] }) },
      { file: '2026-12-04-speed.md', markdown: result({ cpu: EPYC, tables: ['other machine'] }) },
      { file: '2026-12-05-sketch-speed.md', markdown: result({ cpu: XEON, tables: ['other bench'] }) },
    ];
    expect(latestComparable(latest, stored)?.markdown).toContain('earlier today');
    expect(latestComparable(latest, stored.slice(0, 1))?.file).toBe('2026-12-02-speed.md');
  });

  it('is none when only other machine kinds, other benchmarks or results without a cpu line are stored', () => {
    const stored = [
      { file: '2026-11-24-speed.md', markdown: result({ cpu: EPYC, tables: [] }) },
      { file: '2026-11-25-speed.md', markdown: result({ tables: [] }) },
      { file: '2026-12-02-fold.md', markdown: result({ cpu: XEON, tables: [] }) },
    ];
    expect(latestComparable(latest, stored)).toBeUndefined();
  });
});

describe('describeComparison', () => {
  it('names the earlier file and prints a new ÷ old table per table with the same columns', () => {
    const latest = {
      file: '2026-12-03-speed.md',
      markdown: result({
        cpu: XEON,
        tables: [speedTable(['| 100 | naive | 70 | 1428 | no |']), '', '## Added since', '', '| a |', '| --- |'],
      }),
    };
    const earlier = {
      file: '2026-12-02-speed.md',
      markdown: result({ cpu: XEON, tables: [speedTable(['| 100 | naive | 140 | 714 | no |'])] }),
    };
    expect(describeComparison(latest, [earlier])).toBe(
      [
        `Compared with 2026-12-02-speed.md (the latest earlier result on this machine kind, cpu: ${XEON}):`,
        '',
        'Main table, new ÷ old:',
        '',
        // One row in each: no cell is needed to tell rows apart, so the batch size is compared too.
        '| batch size | events/s | p50 ms |',
        '| --- | --- | --- |',
        '| 1.00 | 0.50 | 2.00 |',
        '',
        'Added since: no table with the same columns in 2026-12-02-speed.md.',
      ].join('\n'),
    );
  });

  it('says so when there is no earlier result for this machine kind', () => {
    const latest = { file: '2026-12-03-speed.md', markdown: result({ cpu: XEON, tables: [] }) };
    expect(describeComparison(latest, [])).toBe(
      `No earlier result for this machine kind (cpu: ${XEON}) to compare with.`,
    );
  });
});
