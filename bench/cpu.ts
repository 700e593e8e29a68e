// CPU the machine spent outside the benchmark's own processes during a run (Linux /proc): other
// work on a shared machine that skews a run. Elsewhere it reports nothing.
import { readdirSync, readFileSync } from 'node:fs';

/** USER_HZ: /proc counts CPU time in 1/100 s on Linux. */
const TICK = 100;

/**
 * Busy jiffies of the whole machine: user, nice, system, irq, softirq (network processing, often
 * charged to the process it interrupted) and steal (time the hypervisor took).
 */
function machineBusy(): number | undefined {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0] ?? '';
    const [user = 0, nice = 0, system = 0, , , irq = 0, softirq = 0, steal = 0] = line
      .trim()
      .split(/\s+/)
      .slice(1)
      .map(Number);
    return user + nice + system + irq + softirq + steal;
  } catch {
    return undefined;
  }
}

/** utime + stime of one process (all its threads), in jiffies; 0 once it is gone or off Linux. */
export function processBusy(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return Number(f[11]) + Number(f[12]);
  } catch {
    return 0;
  }
}

/**
 * Kernel threads (children of kthreadd, pid 2): ksoftirqd and kworkers do the loopback network
 * work of the benchmark's own traffic, so their time is not counted as another's.
 */
function kernelThreads(): number[] {
  try {
    return readdirSync('/proc')
      .filter((d) => /^\d+$/.test(d))
      .map(Number)
      .filter((pid) => {
        try {
          const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
          return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1] === '2';
        } catch {
          return false;
        }
      });
  } catch {
    return [];
  }
}

/**
 * Start measuring; `stop()` gives the CPU (in cores: 1 = one core busy the whole time) used by
 * processes other than `pids()` (the runner, its server children, redis) and kernel threads, or
 * undefined off Linux.
 */
export function startCpuMeter(pids: () => number[]): { stop: () => number | undefined } {
  const ours = [...pids(), ...kernelThreads()];
  const t0 = process.hrtime.bigint();
  const machine0 = machineBusy();
  const own0 = ours.map(processBusy);
  return {
    stop() {
      const machine1 = machineBusy();
      if (machine0 === undefined || machine1 === undefined) return undefined;
      const own = ours.reduce((n, pid, i) => n + processBusy(pid) - (own0[i] ?? 0), 0);
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
      return Math.max(0, machine1 - machine0 - own) / TICK / seconds;
    },
  };
}

/** CPU microseconds per jiffy. */
export const JIFFY_US = 1e6 / TICK;
