// Shared test fixtures: real gateways on port 0 with their own temporary directories, a small
// deterministic population, tokens, and an HTTP client. No mocks: the backends, the store, the ledger
// and the sockets are the real ones.
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { connect, createServer, type Socket } from 'node:net'
import { once } from 'node:events'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { request as undiciRequest } from 'undici'
import { loadConfig } from '../src/config.js'
import { generatePopulation, type Population } from '../src/backends/population.js'
import { startGateway, type Gateway } from '../src/gateway.js'
import { mintToken } from '../src/http/auth.js'
import { createLogger } from '../src/logger.js'

export const root = new URL('../..', import.meta.url).pathname
export const policyDir = join(root, 'policies')
export const secret = 'test-secret-that-is-long-enough-for-hs256'
export const issuer = 'doj-idp'
export const audience = 'clets-gateway'

let population: Population | undefined
/** A small deterministic population (seed 54, like the default): person 0 holds licence A1234567. */
export function testPopulation(): Population {
  population ??= generatePopulation(3000, 54)
  return population
}

/**
 * A written request for the criminal history of the test population's first person with a record (what
 * POST /v1/requests takes); `fields` replace the case, justification or requester. The detective and the
 * case are invented.
 */
export function rapSheetRequest(fields: { caseNumber: string; justification: string; requester: Record<string, string> }) {
  const person = testPopulation().rapSheets[0]!.person
  return {
    database: 'criminal_history',
    purpose: 'criminal_investigation',
    subject: { lastName: person.lastName, firstName: person.firstName, dateOfBirth: person.dateOfBirth },
    ...fields,
  }
}

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `clets-${prefix}-`))
}

/** A loopback port nothing listens on now, for a server that cannot listen on port 0 and say which it took. */
export async function freePort(): Promise<number> {
  const server = createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise((resolve) => server.close(resolve))
  return port
}

/** A clock the test moves by hand (epoch ms). */
export class TestClock {
  constructor(public value = Date.parse('2026-06-01T12:00:00.000Z')) {}
  readonly now = () => this.value
  advance(ms: number): void {
    this.value += ms
  }
}

export interface TestGateway {
  readonly gateway: Gateway
  readonly url: string
  readonly stateDir: string
  readonly auditDir: string
  close(): Promise<void>
}

export interface TestGatewayOptions {
  readonly env?: Record<string, string>
  readonly clock?: TestClock
  readonly stateDir?: string
  readonly auditDir?: string
  /** Collects the gateway's log lines (parsed, at info and above) here; silent otherwise. */
  readonly logs?: Record<string, unknown>[]
}

/** Starts a real gateway on 127.0.0.1:0 with the shipped policies and in-process backends. */
export async function startTestGateway(options: TestGatewayOptions = {}): Promise<TestGateway> {
  const stateDir = options.stateDir ?? tempDir('state')
  const auditDir = options.auditDir ?? tempDir('audit')
  const config = loadConfig({
    PORT: '0',
    STATE_DIR: stateDir,
    AUDIT_DIR: auditDir,
    POLICY_DIR: policyDir,
    GATEWAY_JWT_SECRET: secret,
    GATEWAY_INSTANCE_ID: 'test',
    LOG_LEVEL: 'silent',
    // The gateway shares this process's event loop with the test itself: load shedding is off here,
    // and on in test/overload.test.ts, which drives it.
    SHED_EVENT_LOOP_DELAY_MS: '0',
    // Tests read /metrics right after the requests they count: a fresh serialisation each time here,
    // and the cache in the tests that check it (test/floods.test.ts).
    METRICS_CACHE_MS: '0',
    ...(options.logs === undefined ? {} : { LOG_LEVEL: 'info' }),
    ...options.env,
  })
  const logs = options.logs
  const sink =
    logs === undefined
      ? undefined
      : new Writable({
          write(chunk: Buffer, _encoding, done) {
            for (const line of chunk.toString().split('\n')) if (line !== '') logs.push(JSON.parse(line) as Record<string, unknown>)
            done()
          },
        })
  const gateway = await startGateway(config, createLogger(config.logLevel, sink), {
    population: testPopulation(),
    ...(options.clock === undefined ? {} : { clock: options.clock.now }),
  })
  return { gateway, url: gateway.url, stateDir, auditDir, close: () => gateway.close() }
}

/**
 * Creates a Redis's agency registry with the sample agencies, through the code `gatewayctl state init
 * --samples` runs (a gateway never seeds a Redis): audited under `auditDir` (its own by default), at
 * `now` (the sanction's `since`).
 */
export async function initRedis(url: string, options: { auditDir?: string; now?: number } = {}): Promise<void> {
  const { createRegistry } = await import('../src/cli/state-redis.js')
  const by = { operator: 'system:seed', source: 'gatewayctl@test', reason: 'sample agencies for the test (gatewayctl state init --samples)' }
  await createRegistry(url, true, by, { stateDir: tempDir('init-state'), auditDir: options.auditDir ?? tempDir('init-audit'), policyDir }, false, options.now)
}

export interface TokenClaims {
  readonly sub?: string
  readonly ori?: string
  readonly roles?: readonly string[]
  readonly terminal?: string
  /** The officer's own identifiers (issue 13, self_lookup). */
  readonly licenseNumber?: string
  readonly plates?: readonly string[]
  readonly ttlSeconds?: number
}

/** An HS256 token signed with the test secret; a terminal at LAPD unless told otherwise. */
export function token(claims: TokenClaims = {}): string {
  return mintToken(secret, issuer, audience, {
    sub: claims.sub ?? 'officer-17',
    ori: claims.ori ?? 'CA0194200',
    roles: claims.roles ?? ['terminal'],
    terminal: claims.terminal,
    licenseNumber: claims.licenseNumber,
    plates: claims.plates,
    ttlSeconds: claims.ttlSeconds ?? 3600,
  })
}

export const operatorToken = () => token({ sub: 'doj-operator-1', ori: 'CA0349400', roles: ['doj_operator'] })

export interface Answer {
  readonly status: number
  readonly headers: Record<string, string | string[] | undefined>
  readonly body: any
}

/** One real HTTP request; JSON bodies are sent as application/json unless a content-type is given. */
export async function call(
  url: string,
  method: 'GET' | 'POST' | 'PUT' | 'DELETE',
  path: string,
  options: { token?: string; body?: unknown; raw?: string | Buffer; headers?: Record<string, string> } = {},
): Promise<Answer> {
  const headers: Record<string, string> = { ...options.headers }
  if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`
  let body: string | Buffer | undefined
  if (options.raw !== undefined) body = options.raw
  else if (options.body !== undefined) {
    body = JSON.stringify(options.body)
    headers['content-type'] ??= 'application/json'
  }
  const response = await undiciRequest(url + path, { method, headers, body })
  const text = await response.body.text()
  let parsed: unknown = text
  try {
    parsed = JSON.parse(text)
  } catch {
    // not JSON: the metrics text, for instance
  }
  return { status: response.statusCode, headers: response.headers, body: parsed }
}

export interface RawConnection {
  readonly socket: Socket
  /** Resolves with everything received once the first answer is complete or the connection closes. */
  readonly answer: Promise<string>
  /** Resolves, once the connection closes, with the milliseconds it was open. */
  readonly closed: Promise<number>
}

/**
 * A raw socket to the gateway that sends `head` (and whatever follows it) exactly as given: for what an
 * HTTP client would not send, such as headers announcing a body that never comes.
 */
export async function rawConnection(port: number, head: string): Promise<RawConnection> {
  const socket = connect(port, '127.0.0.1')
  await once(socket, 'connect')
  socket.on('error', () => undefined)
  const started = Date.now()
  let received = ''
  const answer = new Promise<string>((resolve) => {
    socket.on('data', (chunk) => {
      received += String(chunk)
      const end = received.indexOf('\r\n\r\n')
      const length = /content-length: (\d+)/i.exec(received)
      if (end !== -1 && length !== null && received.length >= end + 4 + Number(length[1])) resolve(received)
    })
    socket.once('close', () => resolve(received))
  })
  const closed = new Promise<number>((resolve) => socket.once('close', () => resolve(Date.now() - started)))
  socket.write(head)
  return { socket, answer, closed }
}

/** The status code of a raw answer. */
export const statusOf = (answer: string) => Number(answer.slice(9, 12))
/** The JSON body of a raw answer. */
export const bodyOf = (answer: string) => JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4))

/** A query as a terminal sends it. */
export function query(url: string, body: unknown, bearer = token()): Promise<Answer> {
  return call(url, 'POST', '/v1/query', { token: bearer, body })
}

/** Every record of every instance chain under an audit directory, in order. */
export function ledgerRecords(auditDir: string): any[] {
  const records: any[] = []
  const instances = readdirSync(auditDir, { withFileTypes: true }).filter((entry) => entry.isDirectory()).map((entry) => entry.name)
  for (const instance of instances.sort()) {
    for (const segment of readdirSync(join(auditDir, instance)).filter((name) => name.startsWith('segment-')).sort()) {
      const lines = readFileSync(join(auditDir, instance, segment), 'utf8').split('\n')
      // After the last newline: '' or a line torn by a crash mid-append (never acknowledged; verify leaves it out too).
      for (const line of lines.slice(0, -1)) if (line !== '') records.push(JSON.parse(line))
    }
  }
  return records
}

// The sample agencies (src/state/seed.ts; docs/facts.md says which are real). Misuse, sanctions and
// findings in tests belong to fictional agencies: `sheriff` is the sample Bayview County Sheriff's
// Department (fictional), censured in the samples.
export const lapd = 'CA0194200'
export const iceEro = 'CADHS0100'
export const cbp = 'CACBP0000'
export const sheriff = 'CA0990000'
export const sheriffName = "Bayview County Sheriff's Department (fictional)"
/** An invented police department of the same invented county, not among the samples: register it first. */
export const bayview = 'CA0990100'
export const bayviewName = 'Bayview Police Department (fictional)'

export interface GatewayProcess {
  readonly child: import('node:child_process').ChildProcessWithoutNullStreams
  readonly url: string
  /** Everything the process printed on stdout so far (JSON log lines). */
  output(): string
  /** Everything it printed on stderr so far (the start-up banner, fatal start-up errors). */
  errors(): string
}

/** Spawns a gateway process (main.js, or a script that runs it) and resolves once its banner gives its URL. */
export async function spawnGateway(command: string, args: readonly string[], options: { cwd: string; env: NodeJS.ProcessEnv }): Promise<GatewayProcess> {
  const { spawn } = await import('node:child_process')
  const child = spawn(command, args, { cwd: options.cwd, env: options.env, stdio: ['ignore', 'pipe', 'pipe'] }) as unknown as import('node:child_process').ChildProcessWithoutNullStreams
  let output = ''
  let errors = ''
  child.stdout.setEncoding('utf8')
  child.stderr.setEncoding('utf8')
  child.stdout.on('data', (chunk: string) => (output += chunk))
  const url = await new Promise<string>((resolve, reject) => {
    child.stderr.on('data', (chunk: string) => {
      errors += chunk
      const match = /listening on (http:\/\/\S+)/.exec(errors)
      if (match) resolve(match[1]!)
    })
    child.once('exit', (code) => reject(new Error(`the gateway exited (${code}) before listening:\n${output}${errors}`)))
  })
  return { child, url, output: () => output, errors: () => errors }
}

export interface CliRun {
  readonly code: number
  readonly stdout: string
  readonly stderr: string
}

/**
 * Runs the real gatewayctl (bin/gatewayctl.js) as a child process, stdin not a terminal (empty, or
 * `input`), and resolves with its exit code and output; the test's event loop keeps running meanwhile.
 */
export async function runGatewayctl(args: readonly string[], options: { env?: NodeJS.ProcessEnv; cwd?: string; input?: string } = {}): Promise<CliRun> {
  const { spawn } = await import('node:child_process')
  const child = spawn(process.execPath, [join(root, 'bin/gatewayctl.js'), ...args], { cwd: options.cwd ?? root, env: options.env ?? process.env, stdio: ['pipe', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
  child.stdin.end(options.input ?? '')
  const code = await new Promise<number>((resolve, reject) => {
    child.once('error', reject)
    child.once('close', (exitCode, signal) => resolve(exitCode ?? (signal === null ? -1 : 128)))
  })
  return { code, stdout, stderr }
}
