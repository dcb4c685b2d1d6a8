import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';

/**
 * herald's command line (main.ts is its entry). Commands are thin and loaded on demand: parse
 * options, call a library function, print. This file holds the one place
 * where errors become messages and exit codes.
 */
export const program = new Command('herald')
  .description("An online shop's customer communications, run as code.")
  .version(packageVersion(), '-V, --version', "print herald's version")
  .option('-C, --dir <dir>', 'workspace directory (default: the current directory)')
  .option('--db <url|dir>', 'postgres://… URL, or a PGlite directory (default: $HERALD_DATABASE_URL, else .herald/db)')
  .option('--env <name>', "an environment from herald.yaml: its database URL comes from the variable it names")
  .showHelpAfterError('(run `herald --help` for usage)')
  .exitOverride();

/** The version in herald's package.json, two folders up from src/cli and from dist/cli alike. */
export function packageVersion(): string {
  return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
}

// The options send, run and deliver share, said once.
const NOW_HELP = 'run as if at this time (ISO, e.g. 2026-11-20T09:00:00Z); the clock moves on from there';
const BATCH_HELP = 'messages a worker claims at a time (default: 20 per SMTP connection, at least 50)';
const WORKERS_HELP = 'workers in this process';

// Each command declares its own option type; commander hands over what it parsed.
const run =
  (load: () => Promise<{ default: (args: string[], opts: never) => Promise<void> }>) =>
  async (...args: unknown[]) => {
    const cmd = args[args.length - 1] as Command;
    const positional = args.slice(0, -2).filter((a): a is string => typeof a === 'string');
    const opts = cmd.optsWithGlobals() as { env?: string };
    if (opts.env) (await import('./context.js')).useEnvironment(opts);
    const mod = await load();
    await mod.default(positional, opts as never);
  };

program
  .command('init')
  .description('scaffold a new workspace: herald.yaml, one example of every kind, editor settings, the GitHub Actions workflows')
  .argument('[dir]', 'where to create it (default: --dir, else the current directory)')
  .option('--action <owner/repo@ref>', "herald's action for the workflows, pinned by tag or commit (default: this herald's repository at its version's tag)")
  .option('--schemas', "in an existing workspace: copy this herald's JSON Schemas into schemas/ again, after an upgrade")
  .action(run(() => import('./commands/init.js')));

program
  .command('validate')
  .description('check every workspace file against its schema and the cross-file rules')
  .option('--json', 'print {errors, warnings} as JSON')
  .option('--strict', 'fail on warnings too')
  .action(run(() => import('./commands/validate.js')));

program
  .command('plan')
  .description('show what apply would change in the deployed state; writes nothing')
  .option('--format <format>', 'text, json, or markdown: the pull request comment (and, in GitHub Actions, the job summary)')
  .option('--json', 'print the plan as JSON (--format json)')
  .option('--artifact-url <url>', 'with --format markdown: where the plan artifact is, linked when the comment is cut')
  .option('--out <file>', 'save the plan, to apply exactly it later with `herald apply <file>`')
  .option('--detailed-exitcode', 'exit 0 when there are no changes, 2 when there are, 1 on error')
  .option('--target <kind/name>', 'limit the plan to one object and what it depends on')
  .option('--allow-delete', 'plan deletions of objects whose files are gone')
  .option('--refresh-only', 'report only drift: changes made outside git')
  .action(run(() => import('./commands/plan.js')));

program
  .command('apply')
  .description('apply the workspace (or a saved plan) to the deployed state, in one transaction')
  .argument('[plan-file]', 'a plan saved with `herald plan --out`; applied exactly, without asking')
  .option('--json', 'print the applied plan as JSON')
  .option('--auto-approve', 'do not ask for confirmation')
  .option('--allow-delete', 'apply deletions of objects whose files are gone')
  .option('--target <kind/name>', 'limit the apply to one object and what it depends on')
  .option('--lock-timeout <seconds>', 'how long to wait for another apply', '30')
  .option('--reviewed <fingerprint>', "on merge: plan again and apply only if the plan's review fingerprint is this one, the plan approved on the pull request; else fail with \"stale plan, re-review\"")
  .action(run(() => import('./commands/apply.js')));

program
  .command('history')
  .description('every applied version of one object, with its commit and author')
  .argument('<kind/name>', 'for example campaign/winback')
  .option('--json', 'print as JSON')
  .action(run(() => import('./commands/history.js')));

program
  .command('state')
  .description('what is deployed: `state list`, or `state show kind/name`')
  .argument('<list|show>')
  .argument('[kind/name]')
  .option('--json', 'print as JSON')
  .action(run(() => import('./commands/state.js')));

for (const [verb, what] of [
  ['pause', 'stop sending a campaign or trigger now, outside git (recorded as drift)'],
  ['resume', 'let a paused campaign send again (recorded as drift)'],
  ['cancel', 'cancel a campaign now, outside git (recorded as drift)'],
] as const) {
  program
    .command(verb)
    .description(what)
    .argument('<campaign>', 'campaign name')
    .requiredOption('--reason <text>', 'why: kept with who did it and when')
    .action(run(async () => ({ default: (await import('./commands/control.js'))[verb] })));
}

program
  .command('audience')
  .description("the mailing-volume breakdown of a workspace segment or campaign against the shop's data: who is in it, who cannot be written to and why, who receives it")
  .argument('<segment|campaign>', 'a segment or campaign name (segment/NAME or campaign/NAME when both exist)')
  .option('--json', 'print the breakdown as JSON')
  .option('--sample <n>', 'show n example customers of each bucket, with what put them there')
  .option('--now <time>', 'the time relative conditions resolve against (ISO, e.g. 2026-11-20T09:00:00Z; default: now)')
  .action(run(() => import('./commands/audience.js')));

const suppress = program
  .command('suppress')
  .description('the suppression list: addresses no campaign writes to; every change is recorded with who and why');
suppress
  .command('add')
  .description('suppress an address, for one site or (without --site) for all: an email address, or a phone number in E.164 (+4915112345678) for SMS')
  .argument('<email|+phone>')
  .option('--site <id>', 'only for this site from herald.yaml')
  .option('--reason <reason>', 'unsubscribed, bounced, complained or manual', 'manual')
  .option('--note <text>', 'why, kept with the change')
  .action(run(async () => ({ default: (await import('./commands/suppress.js')).add })));
suppress
  .command('remove')
  .description('lift the suppression of an address (an email address, or an SMS number in E.164) for one site or (without --site) the one for all sites')
  .argument('<email|+phone>')
  .option('--site <id>', 'the site it was suppressed for')
  .requiredOption('--note <text>', 'why it may be written to again, kept with the change')
  .action(run(async () => ({ default: (await import('./commands/suppress.js')).remove })));
suppress
  .command('list')
  .description('every suppression, or those that apply to one site')
  .option('--site <id>', "only those that apply to this site: its own and all sites'")
  .option('--json', 'print as JSON')
  .action(run(async () => ({ default: (await import('./commands/suppress.js')).list })));

const customer = program
  .command('customer')
  .description('what herald holds about a person (GDPR access, portability, erasure): docs/privacy.md');
customer
  .command('show')
  .description('every message, event, suppression, list membership and contact herald holds about a person')
  .argument('<id|email>', 'a shop customer id, or an address')
  .option('--json', 'print as JSON')
  .action(run(async () => ({ default: (await import('./commands/customer.js')).show })));
customer
  .command('export')
  .description('the same, every column, as JSON: to stdout or --out')
  .argument('<id|email>', 'a shop customer id, or an address')
  .option('--out <file>', 'write it to this file (readable by its owner only)')
  .action(run(async () => ({ default: (await import('./commands/customer.js')).exportRecord })));
customer
  .command('erase')
  .description("remove a person's data from herald's schema, keeping a one-way hash of the address so they are never mailed again")
  .argument('<id|email>', 'a shop customer id, or an address')
  .option('--yes', 'erase; without it, show what would be erased and change nothing')
  .action(run(async () => ({ default: (await import('./commands/customer.js')).erase })));

program
  .command('bounces')
  .description('bounces and complaints that arrive after sending: `herald bounces import <file|dir|->` reads DSNs, ARF reports and mailto unsubscribes (.eml, mbox, stdin)')
  .argument('<import>')
  .argument('<file|dir|->', 'a .eml file, an mbox file, a directory of them, or - for standard input')
  .option('--json', 'print the summary as JSON')
  .action(run(() => import('./commands/bounces.js')));

program
  .command('token')
  .description('verify any link herald makes (auto-login, open, click, unsubscribe, a bare token, a return-path address): `herald token verify <link>`')
  .argument('<verify>')
  .argument('<token>', 'the whole link, a token, or a bounces+…@ address')
  .option('--json', 'print the result as JSON')
  .action(run(() => import('./commands/token.js')));

program
  .command('preview')
  .description('render every template × site × locale × A/B variant the workspace sends, for sample customers, into a static grid (index.html)')
  .option('--out <dir>', 'where to write it (default: .herald/preview)')
  .option('--customer <id...>', "render for these customers from the shop's data instead of samples")
  .option('--screenshots', 'add PNG screenshots at 600 and 375 px (system Chromium; HERALD_CHROMIUM overrides /usr/bin/chromium)')
  .option('--changed-since <git-ref>', 'only what changed since this ref, for pull requests')
  .option('--format <format>', 'text, json, or markdown: the pull request comment')
  .option('--json', 'print the grid as JSON (--format json)')
  .option('--artifact-url <url>', 'with --format markdown: where the preview artifact (grid and screenshots) is, linked from the comment')
  .option('--serve', 'serve a live preview for authors, re-rendered on every save')
  .option('--port <n>', 'port for --serve', '4400')
  .action(run(() => import('./commands/preview.js')));

program
  .command('test-send')
  .description('send real rendered messages from the working copy, prefixed [TEST], to your own inbox (email) or phone (SMS); never in the ledger or reports')
  .argument('<campaign|trigger|template>', 'what to send; campaign/NAME, trigger/NAME or template/NAME when names clash')
  .requiredOption('--to <email|phone...>', 'the inboxes to send the email to, and phone numbers in E.164 (+4915112345678) to send the SMS to through herald.yaml\'s sms provider; push is not test-sent')
  .option('--customer <id>', "render for this customer from the shop's data instead of a sample")
  .option('--site <id>', "the site to send for (default: the customer's, else the first)")
  .option('--locale <locale>', "the locale (default: the customer's, else the site's default)")
  .option('--variant <name>', 'only this A/B variant (default: one message per variant)')
  .option('--json', 'print what was sent as JSON')
  .action(run(() => import('./commands/test-send.js')));

program
  .command('send')
  .description('send a ready campaign (to $HERALD_SMTP_URL, else to the .herald/outbox folder)')
  .argument('<campaign>', 'campaign name')
  .option('--workers <n>', WORKERS_HELP, '1')
  .option('--batch <n>', BATCH_HELP)
  .option('--now <time>', NOW_HELP)
  .option('--json', 'print the result as JSON')
  .action(run(() => import('./commands/send.js')));

program
  .command('run')
  .description('the scheduler tick for CI: launch due campaigns, sweep active triggers, decide due A/B winners, deliver until nothing is due or the budget ends; exits 0, the next run resumes')
  .option('--budget <duration>', 'stop claiming after this long (90s, 8m, 1h), finish what is in flight, exit 0', '8m')
  .option('--every <duration>', "the schedule's interval (15m): warn when the previous tick started more than twice that long ago (default: the interval the previous tick recorded)")
  .option('--workers <n>', WORKERS_HELP, '1')
  .option('--batch <n>', BATCH_HELP)
  .option('--now <time>', NOW_HELP)
  .option('--json', 'print what the tick did as JSON')
  .action(run(() => import('./commands/run.js')));

program
  .command('deliver')
  .description('a long-running host: N workers deliver until SIGTERM; run any number of these, on any machines, against one database')
  .option('--workers <n>', WORKERS_HELP, '4')
  .option('--batch <n>', BATCH_HELP)
  .option('--idle <seconds>', 'how long to wait when nothing is due', '5')
  .option('--now <time>', NOW_HELP)
  .action(run(() => import('./commands/deliver.js')));

program
  .command('serve')
  .description('the tracking server: open pixel, click redirects, unsubscribe (RFC 8058 one-click), health; run any number behind a load balancer against one database; SIGTERM writes every held event and exits 0')
  .option('--port <n>', 'port to listen on (0: any free port)', '8080')
  .option('--host <address>', 'address to listen on (0.0.0.0: every interface)', '127.0.0.1')
  .action(run(() => import('./commands/serve.js')));

program
  .command('report')
  .description("print a campaign's or trigger's report and write reports/<campaign>.json and .md, or reports/triggers/<trigger>.json and .md; --all writes every report and the overview of all mailings, reports/index.json and .md")
  .argument('[campaign|trigger]', 'a campaign or trigger name (campaign/NAME or trigger/NAME when both exist)')
  .option('--all', 'every campaign and trigger, and reports/index.json and .md')
  .option('--commit', 'with --all: commit reports/ (only that folder) when anything in it changed, marked [skip ci]')
  .option('--push', 'with --commit: push the branch; when it moved on the remote, rebase onto it and push again')
  .option('--remote <name>', 'with --push: the remote to push to (default: origin)')
  .option('--branch <name>', 'with --push: the branch to push to (default: the current branch)')
  .option('--json', 'print the report as JSON')
  .action(run(() => import('./commands/report.js')));

program
  .command('calendar')
  .description('write reports/calendar.md and .ics: sent and scheduled campaigns by UTC day, the messages triggers are expected to send, and warnings where scheduled campaigns would put customers over the frequency cap')
  .option('--from <date>', 'first day (ISO, e.g. 2026-12-01; default: a week before today, UTC)')
  .option('--to <date>', 'last day (default: four weeks after today, UTC)')
  .option('--now <time>', 'the time "today", due campaigns and audiences are reckoned from (ISO; default: now)')
  .option('--json', 'print the calendar as JSON')
  .action(run(() => import('./commands/calendar.js')));

const trigger = program.command('trigger').description("a trigger's tools: `trigger backtest`");
trigger
  .command('backtest')
  .description("replay a workspace trigger's sweep over history, tick by tick, and print per day what it would have sent; writes nothing")
  .argument('<trigger>', 'trigger name (triggers/NAME.yaml)')
  .requiredOption('--from <time>', 'start of the replay (ISO, e.g. 2026-11-01 or 2026-11-01T00:00:00Z)')
  .requiredOption('--to <time>', 'end of the replay (ISO)')
  .option('--every <duration>', 'how often the tick sweeps (90s, 10m, 1h)', '1h')
  .option('--json', 'print the backtest as JSON')
  .action(run(async () => ({ default: (await import('./commands/trigger.js')).backtest })));

const github = program
  .command('github')
  .description("GitHub's API from a workflow (GITHUB_TOKEN, GITHUB_REPOSITORY): `github comment`, `github reviewed`");
github
  .command('comment')
  .description("post a body on a pull request as a sticky comment: update herald's earlier comment with the same marker, else post a new one")
  .requiredOption('--body-file <file|->', 'the body: a file, or - for standard input')
  .option('--marker <prefix>', "how the comment's first line starts (default: the body's first line, when it is an HTML comment; a plan's marker up to its environment)")
  .option('--pr <n>', 'the pull request number (default: the one in the event payload at GITHUB_EVENT_PATH)')
  .action(run(async () => ({ default: (await import('./commands/github.js')).comment })));
github
  .command('reviewed')
  .description("print the review fingerprint of the plan approved on the pull request that brought a commit (--env picks the environment; without it, default), for `herald apply --reviewed`")
  .option('--commit <sha>', 'the commit (default: $GITHUB_SHA, else the workspace\'s HEAD)')
  .action(run(async () => ({ default: (await import('./commands/github.js')).reviewed })));

program
  .command('demo')
  .description('seed a demo shop into the embedded database, apply this workspace, send and report')
  .option('--customers <n>', 'number of demo customers', '10000')
  .option('--seed <n>', 'seed of the deterministic demo data', '42')
  .option('--fresh', 'reseed the shop data and forget earlier demo sends')
  .option('--no-send', 'stop after apply: for a large shop, where writing every message to the outbox takes minutes')
  .action(run(() => import('./commands/demo.js')));

/**
 * A reader that went away (`herald validate | head`) must not crash herald
 * with an unhandled EPIPE. The command carries on, its output discarded:
 * exiting there and then could stop a send between an SMTP reply and the
 * ledger record of it.
 */
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code !== 'EPIPE') throw err;
    stream.write = (() => true) as typeof stream.write;
  });
}

export async function main(argv: string[]): Promise<number> {
  try {
    await program.parseAsync(argv);
    return 0;
  } catch (err) {
    return await report(err);
  }
}

async function report(err: unknown): Promise<number> {
  if (err instanceof CommanderError) {
    // --help and --version arrive here too, with exit code 0.
    return err.exitCode;
  }
  // Loaded here, not at start-up: `herald --help` needs neither (test/cli/startup.test.ts).
  const [{ ExitError, UserError, formatProblem, printable }, { isConnectionError }] = await Promise.all([import('../errors.js'), import('../db/retry.js')]);
  if (err instanceof ExitError) return err.code;
  if (err instanceof UserError) {
    for (const p of err.problems) process.stderr.write(`${formatProblem(p)}\n`);
    // Messages quote workspace names, arguments and database text: print them escaped.
    process.stderr.write(`herald: ${printable(err.message, { newlines: true })}\n`);
    if (err.hint) process.stderr.write(`  hint: ${printable(err.hint, { newlines: true })}\n`);
    return 1;
  }
  const e = err as Error;
  if (isConnectionError(err)) {
    process.stderr.write(`herald: lost the database: ${printable(e?.message ?? String(err), { newlines: true })}\n`);
    process.stderr.write(
      '  hint: check that PostgreSQL is up and accepts connections, then run again: it resumes from the ledger; only messages whose results could not be recorded before the database went away may go out again\n',
    );
    return 1;
  }
  process.stderr.write(`herald: internal error: ${printable(e?.message ?? String(err), { newlines: true })}\n`);
  process.stderr.write(
    process.env.HERALD_DEBUG ? `${e?.stack}\n` : '  this is a bug in herald; rerun with HERALD_DEBUG=1 for details and report it\n',
  );
  return 70;
}
