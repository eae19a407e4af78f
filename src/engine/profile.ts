import * as tf from '@tensorflow/tfjs';

export interface KernelTiming {
  kernelName: string;
  calls: number;
  /** CPU time of this process while the kernel ran: robust against other processes sharing the cores. */
  cpuMs: number;
  wallMs: number;
}

/**
 * Runs `fn` with every kernel of the current backend wrapped in a timer and returns per-kernel totals,
 * slowest first. Kernels that call other kernels internally are charged in full to the outer one.
 * The original registrations are restored afterwards, even if `fn` throws.
 */
export async function profileKernels(fn: () => unknown | Promise<unknown>): Promise<KernelTiming[]> {
  const backendName = tf.getBackend();
  const configs = tf.getKernelsForBackend(backendName);
  const totals = new Map<string, KernelTiming>();
  let depth = 0;
  for (const config of configs) {
    const timing: KernelTiming = { kernelName: config.kernelName, calls: 0, cpuMs: 0, wallMs: 0 };
    const wrapped: tf.KernelFunc = (params) => {
      if (depth > 0) return config.kernelFunc(params);
      depth++;
      const cpu0 = process.cpuUsage();
      const wall0 = performance.now();
      try {
        return config.kernelFunc(params);
      } finally {
        const cpu = process.cpuUsage(cpu0);
        timing.cpuMs += (cpu.user + cpu.system) / 1000;
        timing.wallMs += performance.now() - wall0;
        timing.calls++;
        depth--;
      }
    };
    totals.set(config.kernelName, timing);
    tf.unregisterKernel(config.kernelName, backendName);
    tf.registerKernel({ kernelName: config.kernelName, backendName, kernelFunc: wrapped });
  }
  try {
    await fn();
  } finally {
    for (const config of configs) {
      tf.unregisterKernel(config.kernelName, backendName);
      tf.registerKernel(config);
    }
  }
  return [...totals.values()].filter((t) => t.calls > 0).sort((a, b) => b.cpuMs - a.cpuMs);
}

export function formatProfile(timings: KernelTiming[], top = 15): string {
  const total = timings.reduce((s, t) => s + t.cpuMs, 0);
  const lines = timings.slice(0, top).map((t) =>
    `  ${t.kernelName.padEnd(26)} ${t.cpuMs.toFixed(1).padStart(8)} ms cpu ${String(t.calls).padStart(5)} calls ${((100 * t.cpuMs) / (total || 1)).toFixed(1).padStart(5)} %`);
  return [`  kernel CPU time total ${total.toFixed(1)} ms`, ...lines].join('\n');
}
