import type { CliIo } from './io.js';

/** One `bdlab <name>` subcommand; each lives in its own file. */
export interface Command {
  name: string;
  summary: string;
  usage: string;
  run(argv: string[], io: CliIo): Promise<number>;
}
