// gatewayctl as an operator first meets it (issue 14, point 7), run as a real child process: --help on
// every command and subcommand (found by walking the help itself), --version, and usage errors as a
// short message with exit 2 and no stack trace.
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import t from 'tap'
import { lapd, root, runGatewayctl } from './helpers.js'

const stackTrace = /\n\s+at /
const version = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { version: string }).version

t.test('--help on every command and subcommand prints its usage on stdout and exits 0; --version prints the version', async (t) => {
  const seen: string[] = []
  const visit = async (path: string[]): Promise<void> => {
    const help = await runGatewayctl([...path, '--help'])
    const name = ['gatewayctl', ...path].join(' ')
    t.equal(help.code, 0, `${name} --help: exit 0`)
    t.equal(help.stderr, '', `${name} --help: nothing on stderr`)
    t.match(help.stdout, new RegExp(`^Usage: ${name} `), `${name} --help: its usage`)
    seen.push(path.join(' '))
    const commands = /\nCommands:\n([\s\S]*?)(?:\n\n|$)/.exec(help.stdout)?.[1] ?? ''
    const subcommands = [...commands.matchAll(/^ {2}(\S+)/gm)].map((match) => match[1]!).filter((sub) => sub !== 'help')
    // A group's subcommands side by side: each is a process of its own.
    await Promise.all(subcommands.map((sub) => visit([...path, sub])))
  }
  await visit([])
  // Every command there is, so one missing from the walk (or from the program) is noticed.
  const every = [
    'token',
    ...['check', 'test', 'replay'].map((sub) => `policy ${sub}`),
    ...['verify', 'search', 'retention'].map((sub) => `audit ${sub}`),
    ...['misuse', 'compliance'].map((sub) => `report ${sub}`),
    'signals hash-watchlist',
    ...['list', 'show', 'register', 'agreement', 'revoke', 'sanction', 'reinstate'].map((sub) => `agencies ${sub}`),
    ...['list', 'show', 'sanction', 'reinstate'].map((sub) => `officers ${sub}`),
    ...['list', 'show', 'approve', 'cancel'].map((sub) => `changes ${sub}`),
    ...['list', 'show', 'finding'].map((sub) => `reviews ${sub}`),
    ...['init', 'export', 'import'].map((sub) => `state ${sub}`),
    ...['list', 'show', 'approve', 'refuse'].map((sub) => `requests ${sub}`),
    ...['record', 'show', 'list'].map((sub) => `filings ${sub}`),
  ]
  const groups = new Set(every.filter((command) => command.includes(' ')).map((command) => command.split(' ')[0]!))
  t.same(new Set(seen), new Set(['', ...groups, ...every]), 'the walk found every command, and no other')
  for (const command of every) {
    t.ok(seen.includes(command), `${command} has its help`)
  }
  const [root, stateImport] = await Promise.all([runGatewayctl(['--help']), runGatewayctl(['state', 'import', '--help'])])
  t.match(root.stdout, /Exit codes:\n {2}0 +done\n {2}1 .*\n {2}2 +usage.*\n {2}3 +Redis or the gateway could not be reached/, 'the exit codes are listed')
  t.match(stateImport.stdout, /--dry-run/)

  const flags = ['--version', '-V']
  const versions = await Promise.all(flags.map((flag) => runGatewayctl([flag])))
  for (const [index, flag] of flags.entries()) {
    const printed = versions[index]!
    t.equal(printed.code, 0)
    t.equal(printed.stdout, `${version}\n`, `${flag}: package.json's version`)
  }
})

t.test('usage errors: a short message on stderr, exit 2, no stack trace', async (t) => {
  const usage: [string[], RegExp][] = [
    [[], /^Usage: gatewayctl /],
    [['frobnicate'], /^gatewayctl: unknown command 'frobnicate'/],
    [['agencies'], /^Usage: gatewayctl agencies /],
    [['state', 'restore'], /^gatewayctl: unknown state command restore/],
    [['token', '--sub', 'u-1', '--ori', lapd, '--role', 'terminal', '--bogus'], /^gatewayctl: unknown option '--bogus'\n\(`gatewayctl token --help` shows the usage\)\n$/],
    [['token', '--sub'], /^gatewayctl: option '--sub <user>' argument missing/],
    [['token', '--sub', 'u-1', '--ori', lapd, '--role', 'terminal', '--ttl', 'forever'], /^gatewayctl: --ttl: expected a number and a unit/],
    [['state', 'import'], /^gatewayctl: missing required argument 'file'/],
    [['audit', 'verify', 'one', 'two'], /^gatewayctl: too many arguments for 'verify'/],
    [['agencies', 'show', 'lapd'], /^gatewayctl: show needs an ORI such as CA0194200/],
    [['audit', 'search', '--subject', 'address=MAIN ST'], /^gatewayctl: --subject: expected VALUE or FIELD=VALUE/],
    [['audit', 'retention', 'one', 'two'], /^gatewayctl: too many arguments for 'retention'/],
    [['policy', 'replay', '--since', '2026-05-01'], /^gatewayctl: policy replay needs --against DIR and --since TIME\n/],
    [['policy', 'replay', '--against', 'policies', '--since', '2026-05-02', '--until', '2026-05-01'], /^gatewayctl: --until: before --since\n/],
    [['report', 'misuse'], /^gatewayctl: report misuse needs --year YYYY/],
    [['report', 'misuse', '--year', '2026', '--public', '--suppress-below', '1'], /^gatewayctl: --suppress-below: a whole number from 2 to 100; got 1\n/],
    [['report', 'misuse', '--year', '2026', '--url', 'http://127.0.0.1:1'], /^gatewayctl: unknown option '--url'/],
    [['report', 'compliance', '--year', '2026', '--public'], /^gatewayctl: unknown option '--public'/],
    [['signals', 'hash-watchlist', 'one', 'two'], /^gatewayctl: too many arguments for 'hash-watchlist'/],
    [['signals', 'hash'], /^gatewayctl: unknown signals command hash/],
    [['filings', 'record', 'lapd', '2025'], /^gatewayctl: record needs an ORI such as CA0194200, then the year/],
    [['reviews', 'show', 'not-a-uuid'], /^gatewayctl: show needs a review id/],
    [['reviews', 'list', '--status', 'pending'], /^gatewayctl: --status: expected one of open, closed, all/],
    [['reviews', 'finding', '00000000-0000-4000-8000-000000000000', '--finding', 'guilty', '--reason', 'x'], /^gatewayctl: --finding: expected one of confirmed_misuse/],
  ]
  // Side by side, each a process of its own (a usage error changes nothing); checked in order.
  const runs = await Promise.all(usage.map(([args]) => runGatewayctl(args)))
  for (const [index, [args, message]] of usage.entries()) {
    const run = runs[index]!
    t.equal(run.code, 2, `gatewayctl ${args.join(' ')}: exit 2`)
    t.match(run.stderr, message, `gatewayctl ${args.join(' ')}: says what is wrong`)
    t.notMatch(run.stderr, stackTrace)
    t.equal(run.stdout, '', 'and prints nothing else')
  }
})

