import { cpus, loadavg, totalmem, platform, release } from 'node:os';

/** The machine a benchmark ran on, written with every result so that figures are never compared blind. */
export function describeMachine(): string {
  const cores = cpus();
  return [
    `date: ${new Date().toISOString()}`,
    `cpu: ${cores[0]?.model ?? 'unknown'} × ${cores.length}`,
    `memory: ${(totalmem() / 2 ** 30).toFixed(1)} GiB`,
    // Other work on the machine slows every figure: the 1, 5 and 15-minute load averages when the result was written.
    `load average: ${loadavg()
      .map((load) => load.toFixed(2))
      .join(' ')}`,
    `os: ${platform()} ${release()}`,
    `node: ${process.version}`,
  ].join('\n');
}
