import { resolve } from 'node:path';
import { analyzePipeline, formatDiagnostics } from '../pipeline/index.js';
import { flag, maxInstancesOption, parseCommandArgs } from './args.js';
import type { Command } from './command.js';
import { EXIT_INVALID, EXIT_OK, UsageError, type CliIo } from './io.js';

const USAGE = `Usage: bdlab validate FILE...

Checks pipeline files without running anything: YAML syntax, structure, stage kinds, needs and
cycles, matrices, and every stage's params against its schema. Prints all problems of each file
as file:line:col diagnostics.

Exit status: 0 when every file is valid, 2 otherwise.

Options:
  -h, --help          show this help`;

export const validateCommand: Command = {
  name: 'validate',
  summary: 'check pipeline files without running them',
  usage: USAGE,
  async run(argv: string[], io: CliIo): Promise<number> {
    const { values, positionals } = parseCommandArgs('validate', argv, { help: { type: 'boolean', short: 'h' }, debug: { type: 'boolean' } });
    if (flag(values, 'help')) {
      io.out(USAGE);
      return EXIT_OK;
    }
    if (positionals.length === 0) throw new UsageError('validate: expected at least one pipeline FILE');
    const maxInstances = maxInstancesOption(io.env);
    let invalid = 0;
    for (const file of positionals) {
      const result = await analyzePipeline(resolve(io.cwd, file), maxInstances !== undefined ? { maxInstances } : {});
      if (result.ok) {
        const stages = new Set(result.value.instances.map((i) => i.stage)).size;
        io.out(`${file}: ok (${stages} stage(s), ${result.value.instances.length} instance(s))`);
      } else {
        invalid += 1;
        io.err(formatDiagnostics(result.error));
      }
    }
    if (positionals.length > 1 && invalid > 0) io.err(`${invalid} of ${positionals.length} file(s) invalid`);
    return invalid > 0 ? EXIT_INVALID : EXIT_OK;
  },
};
