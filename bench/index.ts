/**
 * `npm run bench`: every benchmark of the project in one process, one after another, so their
 * ratios are measured against baselines taken in the same run on the same machine.
 * `npm run bench -- engine` runs only the named ones.
 */
const SUITES = ['planning', 'runner', 'engine', 'memory', 'one-pixel', 'slurm'] as const;

interface BenchModule {
  main(): Promise<void>;
}

async function runAll(selected: readonly string[]): Promise<number> {
  let failures = 0;
  for (const name of SUITES) {
    if (selected.length > 0 && !selected.includes(name)) continue;
    process.stdout.write(`\n=== bench: ${name} ===\n`);
    try {
      const mod = (await import(`./${name}.js`)) as BenchModule;
      await mod.main();
    } catch (err) {
      failures++;
      process.stdout.write(`bench ${name} failed: ${err instanceof Error ? err.message : String(err)}\n`);
    }
  }
  return failures;
}

const selected = process.argv.slice(2);
runAll(selected).then((failures) => {
  process.exitCode = failures === 0 ? 0 : 1;
});
