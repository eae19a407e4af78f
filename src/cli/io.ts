/** What a command may touch of its environment; tests and bin.ts pass their own. */
export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  cwd: string;
  env: NodeJS.ProcessEnv;
  /** stdout is an interactive terminal (enables the live display). */
  isTTY: boolean;
}

export const EXIT_OK = 0;
/** A stage failed (or a run finished with failures). */
export const EXIT_STAGE_FAILED = 1;
/** Invalid input: bad arguments or an invalid pipeline file. */
export const EXIT_INVALID = 2;
export const EXIT_INTERNAL = 70;
export const EXIT_INTERRUPTED = 130;

/** A mistake on the command line: printed as one paragraph plus a hint to --help, exit 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
}

export function processIo(): CliIo {
  // `bdlab compare ... | head` closes the pipe early: that is the reader's choice, not an error.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(EXIT_OK);
    throw err;
  });
  return {
    out: (text) => void process.stdout.write(text.endsWith('\n') ? text : text + '\n'),
    err: (text) => void process.stderr.write(text.endsWith('\n') ? text : text + '\n'),
    cwd: process.cwd(),
    env: process.env,
    isTTY: Boolean(process.stdout.isTTY),
  };
}
