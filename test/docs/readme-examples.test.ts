import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

/**
 * The README's examples must work on whatever day they are pasted, and its links must lead somewhere inside the
 * repository (issue 18, "The README and the first curl"). A query's default range is the last day, so an example
 * that posts a fixed time answers `"buckets":[]` a day later: posted times come from the shell (`$(date +%s000)`).
 */

const root = join(__dirname, '..', '..');
const docsDir = join(root, 'docs');
const markdownFiles = [
  join(root, 'README.md'),
  ...readdirSync(docsDir)
    .filter((name) => name.endsWith('.md'))
    .map((name) => join(docsDir, name)),
];

interface CodeBlock {
  readonly file: string;
  readonly line: number;
  readonly lang: string;
  readonly text: string;
}

/** The fenced code blocks of a Markdown text, with the line each starts on. */
function codeBlocks(file: string): CodeBlock[] {
  const lines = readFileSync(file, 'utf8').split('\n');
  const blocks: CodeBlock[] = [];
  let open: { line: number; lang: string; fence: string; body: string[] } | undefined;
  lines.forEach((line, index) => {
    const fence = /^\s*(```+|~~~+)\s*([\w-]*)/.exec(line);
    if (open === undefined) {
      if (fence) open = { line: index + 1, lang: fence[2] ?? '', fence: fence[1] as string, body: [] };
    } else if (fence && line.trim().startsWith(open.fence) && line.trim().replace(/[`~]/g, '') === '') {
      blocks.push({ file, line: open.line, lang: open.lang, text: open.body.join('\n') });
      open = undefined;
    } else {
      open.body.push(line);
    }
  });
  return blocks;
}

/** The Markdown outside code blocks: where links and headings live. */
function prose(file: string): string {
  const lines = readFileSync(file, 'utf8').split('\n');
  let inFence: string | undefined;
  return lines
    .map((line) => {
      const fence = /^\s*(```+|~~~+)/.exec(line);
      if (fence) {
        if (inFence === undefined) inFence = fence[1];
        else if (line.trim().startsWith(inFence)) inFence = undefined;
        return '';
      }
      return inFence === undefined ? line : '';
    })
    .join('\n');
}

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces as dashes, repeats numbered. */
function anchors(file: string): Set<string> {
  const seen = new Map<string, number>();
  const result = new Set<string>();
  for (const match of prose(file).matchAll(/^#{1,6}\s+(.+?)\s*#*\s*$/gm)) {
    const text = (match[1] as string).replace(/`/g, '').replace(/\[([^\]]*)\]\([^)]*\)/g, '$1');
    const base = text
      .toLowerCase()
      .replace(/[^\p{L}\p{N}\s_-]/gu, '')
      .replace(/\s/g, '-');
    const count = seen.get(base) ?? 0;
    seen.set(base, count + 1);
    result.add(count === 0 ? base : `${base}-${count}`);
  }
  return result;
}

const postingBlocks = markdownFiles
  .flatMap(codeBlocks)
  .filter((block) => /curl[^\n]*(-X\s*POST|\s-d\s|--data)|POST \/events/.test(block.text));

describe('examples that post events', () => {
  it('the README has some, and each posts a time taken from the shell', () => {
    const readme = postingBlocks.filter((block) => block.file.endsWith('README.md'));
    expect(readme.length).toBeGreaterThan(0);
    const fromShell = readme.filter((block) => block.text.includes('$(date +%s000)'));
    expect(fromShell.length).toBeGreaterThan(0);
  });

  it.each(postingBlocks.map((block) => [`${relative(root, block.file)}:${block.line}`, block] as const))(
    '%s posts no fixed date or epoch-ms literal',
    (_where, block) => {
      // An ISO date-time anywhere in a posted body: `"ts":"2026-11-24T12:00:00Z"`, also with escaped quotes.
      expect(block.text).not.toMatch(/\\?"\w+\\?"\s*:\s*\\?"\d{4}-\d{2}-\d{2}T/);
      // A literal epoch-ms time (13 digits) as a field's value.
      expect(block.text).not.toMatch(/\\?"\w+\\?"\s*:\s*\d{13}\b/);
    },
  );
});

describe('the fixed-date check', () => {
  it('catches the forms it is there for', () => {
    const iso = /\\?"\w+\\?"\s*:\s*\\?"\d{4}-\d{2}-\d{2}T/;
    const epoch = /\\?"\w+\\?"\s*:\s*\d{13}\b/;
    expect(`-d '{"ts":"2026-11-24T12:00:00Z"}'`).toMatch(iso);
    expect(`-d "{\\"at\\":\\"2026-11-24T12:00:00Z\\"}"`).toMatch(iso);
    expect(`-d '{"ts": 1795000000000}'`).toMatch(epoch);
    expect(`-d '{"ts":'$(date +%s000)'}'`).not.toMatch(epoch);
    expect(`\\"at\\":$(date +%s000)}`).not.toMatch(epoch);
  });
});

describe('links in README.md and docs/*.md', () => {
  const links = markdownFiles.flatMap((file) =>
    [...prose(file).matchAll(/\]\(([^)\s]+)(?:\s+"[^"]*")?\)/g)].map((match) => ({
      file,
      target: match[1] as string,
    })),
  );
  const relativeLinks = links.filter((link) => !/^[a-z][a-z0-9+.-]*:/i.test(link.target));

  it('there are relative links to check', () => {
    expect(relativeLinks.length).toBeGreaterThan(0);
  });

  it.each(relativeLinks.map((link) => [`${relative(root, link.file)} → ${link.target}`, link] as const))(
    '%s leads to a file and heading inside the repository',
    (_where, { file, target }) => {
      const [path, fragment] = target.split('#') as [string, string | undefined];
      const destination = path === '' ? file : resolve(dirname(file), decodeURI(path));
      expect(relative(root, destination).startsWith('..')).toBe(false);
      expect(existsSync(destination)).toBe(true);
      if (fragment !== undefined && statSync(destination).isFile() && destination.endsWith('.md')) {
        expect([...anchors(destination)]).toContain(decodeURIComponent(fragment));
      }
    },
  );

  it('nothing links to the old out-of-repository DESIGN.md', () => {
    for (const file of markdownFiles) expect(readFileSync(file, 'utf8')).not.toMatch(/shared\/DESIGN\.md/);
  });
});
