/**
 * Entry point of a local stage child process: receives one start message over IPC, runs the
 * instance (instance.ts), reports progress/logs/result back, and exits. A fresh process per
 * instance means a crash fails only that instance and all memory is returned afterwards.
 */
import type { ChildMessage, ParentMessage } from '../common/stage-protocol.js';
import { errorMessage, runInstance } from './instance.js';

const abort = new AbortController();

function send(message: ChildMessage): Promise<void> {
  return new Promise((resolve) => {
    if (!process.send || !process.connected) return resolve();
    process.send(message, undefined, {}, () => resolve());
  });
}

async function finish(message: ChildMessage, code: number): Promise<never> {
  await send(message);
  process.exit(code);
}

// Ctrl-C in a terminal reaches the whole process group; the parent decides how to stop us.
process.on('SIGINT', () => undefined);
// If the runner dies (even by SIGKILL) the IPC channel closes: don't keep working for nobody.
process.on('disconnect', () => process.exit(129));
process.on('uncaughtException', (err) => void finish(errorMessage(err), 1));
process.on('unhandledRejection', (err) => void finish(errorMessage(err), 1));

let started = false;
process.on('message', (message: ParentMessage) => {
  if (message.type === 'abort') {
    abort.abort(new Error('run interrupted'));
  } else if (message.type === 'start' && !started) {
    started = true;
    void runInstance(message, abort.signal, (m) => void send(m)).then((final) => finish(final, final.type === 'done' ? 0 : 1));
  }
});
