import { relative } from 'node:path';
import { Listr, ListrTaskState, type ListrTaskWrapper } from 'listr2';
import { describeJob } from './display-plain.js';
import type { RunEvent, RunEventListener } from './events.js';

type Wrapper = ListrTaskWrapper<unknown, typeof import('listr2').DefaultRenderer, typeof import('listr2').SimpleRenderer>;

interface TaskHandle {
  wrapper?: Wrapper;
  settle?: (error?: Error) => void;
  /** Events that arrived before listr started the task. */
  early: RunEvent[];
}

/**
 * Interactive display for a terminal: one listr2 task per instance with the child's live
 * progress as the task's output line. It consumes the same events as the plain display.
 */
export function listrDisplay(opts: { cwd: string; out(line: string): void; err(line: string): void }): { listener: RunEventListener; done(): Promise<void> } {
  const handles = new Map<string, TaskHandle>();
  let finished: Promise<unknown> = Promise.resolve();

  const apply = (h: TaskHandle, e: RunEvent): void => {
    const t = h.wrapper;
    if (!t) {
      h.early.push(e);
      return;
    }
    switch (e.type) {
      case 'instance-started':
        t.task.state$ = ListrTaskState.STARTED;
        t.title = `${e.id} running`;
        break;
      case 'job':
        if (e.job.phase !== 'ended') t.title = `${e.id} ${describeJob(e.job)}`;
        break;
      case 'lock-wait':
        t.task.state$ = ListrTaskState.STARTED;
        t.title = `${e.id} waiting for another bdlab process`;
        break;
      case 'progress':
        if (e.progress.message) t.output = e.progress.message;
        break;
      case 'cache-hit':
        t.title = `${e.id} (cached)`;
        h.settle?.();
        break;
      case 'succeeded':
        t.title = `${e.id} (${(e.durationMs / 1000).toFixed(1)} s)`;
        h.settle?.();
        break;
      case 'failed':
        t.title = `${e.id} failed`;
        h.settle?.(new Error(`${e.id}: ${e.error}`));
        break;
      case 'interrupted':
        t.title = `${e.id} interrupted`;
        h.settle?.(new Error(`${e.id}: interrupted`));
        break;
      case 'skipped':
        t.skip(`${e.id} skipped: ${e.reason}`);
        h.settle?.();
        break;
      default:
        break;
    }
  };

  const listener: RunEventListener = (e) => {
    if (e.type === 'run-started') {
      const list = new Listr(
        e.instances.map((id) => {
            const handle: TaskHandle = { early: [] };
            handles.set(id, handle);
            return {
              title: id,
              task: (_ctx: unknown, wrapper: Wrapper) =>
                new Promise<void>((resolve, reject) => {
                  handle.wrapper = wrapper;
                  // listr starts every task of a concurrent list at once; until its instance starts
                  // (upstreams first, --jobs at a time), a task shows as waiting, without a spinner.
                  wrapper.task.state$ = ListrTaskState.WAITING;
                  handle.settle = (error) => (error ? reject(error) : resolve());
                  for (const early of handle.early.splice(0)) apply(handle, early);
                }),
            };
          }),
        { concurrent: true, exitOnError: false, registerSignalListeners: false, rendererOptions: { collapseErrors: false } },
      );
      opts.out(`bdlab: ${e.plan.name}: run directory ${relative(opts.cwd, e.runDir)}`);
      finished = list.run().catch(() => undefined);
      return;
    }
    if (e.type === 'cache-corrupt') {
      opts.err(`bdlab: warning: cache entry of ${e.id} is corrupt (${e.reason}); rebuilding`);
      return;
    }
    if (e.type === 'run-finished') {
      // Interrupted runs leave tasks that never got a final event: close them.
      for (const h of handles.values()) h.settle?.();
      return;
    }
    if ('id' in e) {
      const h = handles.get(e.id);
      if (h) apply(h, e);
    }
  };
  return { listener, done: () => finished.then(() => undefined) };
}
