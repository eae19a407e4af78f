import { toolVersion } from '../common/paths.js';
import type { Command } from './command.js';
import { compareCommand } from './compare.js';
import { diffCommand } from './diff.js';
import { gcCommand } from './gc.js';
import { EXIT_INTERNAL, EXIT_INVALID, EXIT_OK, UsageError, processIo, type CliIo } from './io.js';
import { planCommand } from './plan.js';
import { reportCommand } from './report.js';
import { runCommand } from './run.js';
import { runsCommand } from './runs.js';
import { showCommand } from './show.js';
import { validateCommand } from './validate.js';

const COMMANDS: Command[] = [runCommand, validateCommand, planCommand, runsCommand, showCommand, compareCommand, diffCommand, reportCommand, gcCommand];

function mainUsage(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return `Usage: bdlab <command> [options]

bdlab runs declarative backdoor-attack experiment pipelines (YAML): stages run in dependency
order, each in its own process, with content-verified caching and a directory per run.

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n')}

Run "bdlab <command> --help" for a command's options. bdlab --version prints the version.`;
}

/** The CLI as a function: argv without node and script; returns the exit code. */
export async function main(argv: string[], io: CliIo = processIo()): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    if (name === 'help' && rest[0]) return main([rest[0], '--help'], io);
    io.out(mainUsage());
    return name === undefined ? EXIT_INVALID : EXIT_OK;
  }
  if (name === '--version' || name === '-V') {
    io.out(toolVersion());
    return EXIT_OK;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command) {
    io.err(`bdlab: unknown command "${name}"; commands are: ${COMMANDS.map((c) => c.name).join(', ')} (see bdlab --help)`);
    return EXIT_INVALID;
  }
  const debug = rest.includes('--debug');
  try {
    return await command.run(rest, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`bdlab ${err.message}\nSee "bdlab ${command.name} --help".`);
      return EXIT_INVALID;
    }
    const message = err instanceof Error ? err.message : String(err);
    io.err(`bdlab ${command.name}: internal error: ${message}${debug ? '' : ' (run with --debug for details)'}`);
    if (debug && err instanceof Error && err.stack) io.err(err.stack);
    return EXIT_INTERNAL;
  }
}
