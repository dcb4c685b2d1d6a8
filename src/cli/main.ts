#!/usr/bin/env node
import { Command, CommanderError } from 'commander';
import { ExitError, UserError, formatProblem } from '../errors.js';

/**
 * herald's command line. Commands are thin and loaded on demand: parse
 * options, call a library function, print. This file holds the one place
 * where errors become messages and exit codes.
 */
const program = new Command('herald')
  .description("An online shop's customer communications, run as code.")
  .option('-C, --dir <dir>', 'workspace directory (default: the current directory)')
  .option('--db <url|dir>', 'postgres://… URL, or a PGlite directory (default: $HERALD_DATABASE_URL, else .herald/db)')
  .showHelpAfterError('(run `herald --help` for usage)')
  .exitOverride();

// Each command declares its own option type; commander hands over what it parsed.
const run =
  (load: () => Promise<{ default: (args: string[], opts: never) => Promise<void> }>) =>
  async (...args: unknown[]) => {
    const cmd = args[args.length - 1] as Command;
    const positional = args.slice(0, -2).filter((a): a is string => typeof a === 'string');
    const mod = await load();
    await mod.default(positional, cmd.optsWithGlobals() as never);
  };

program
  .command('validate')
  .description('check every workspace file against its schema and the cross-file rules')
  .option('--json', 'print {errors, warnings} as JSON')
  .action(run(() => import('./commands/validate.js')));

program
  .command('plan')
  .description('show what apply would change in the deployed state')
  .option('--json', 'print the plan as JSON')
  .option('--detailed-exitcode', 'exit 0 when there are no changes, 2 when there are')
  .action(run(() => import('./commands/plan.js')));

program
  .command('apply')
  .description('apply the workspace to the deployed state, in one transaction')
  .option('--json', 'print the applied plan as JSON')
  .action(run(() => import('./commands/apply.js')));

program
  .command('send')
  .description('send a ready campaign (to $HERALD_SMTP_URL, else to the .herald/outbox folder)')
  .argument('<campaign>', 'campaign name')
  .option('--json', 'print the result as JSON')
  .action(run(() => import('./commands/send.js')));

program
  .command('report')
  .description("print a campaign's report and write reports/<campaign>.json and .md")
  .argument('<campaign>', 'campaign name')
  .option('--json', 'print the report as JSON')
  .action(run(() => import('./commands/report.js')));

program
  .command('demo')
  .description('seed a demo shop into the embedded database, apply this workspace, send and report')
  .option('--customers <n>', 'number of demo customers', '10000')
  .option('--seed <n>', 'seed of the deterministic demo data', '42')
  .option('--fresh', 'reseed the shop data and forget earlier demo sends')
  .action(run(() => import('./commands/demo.js')));

async function main(argv: string[]): Promise<number> {
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (err) {
    return report(err);
  }
}

function report(err: unknown): number {
  if (err instanceof CommanderError) {
    // --help and --version arrive here too, with exit code 0.
    return err.exitCode;
  }
  if (err instanceof ExitError) return err.code;
  if (err instanceof UserError) {
    for (const p of err.problems) process.stderr.write(`${formatProblem(p)}\n`);
    process.stderr.write(`herald: ${err.message}\n`);
    if (err.hint) process.stderr.write(`  hint: ${err.hint}\n`);
    return 1;
  }
  const e = err as Error;
  process.stderr.write(`herald: internal error: ${e?.message ?? String(err)}\n`);
  process.stderr.write(
    process.env.HERALD_DEBUG ? `${e?.stack}\n` : '  this is a bug in herald; rerun with HERALD_DEBUG=1 for details and report it\n',
  );
  return 70;
}

process.exitCode = await main(process.argv);
