// A real redis-server for the tests, on a free loopback port, with no persistence (so a restart comes
// back empty, as a Redis without AOF does). A missing redis-server is reported, never skipped.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { freePort, tempDir } from './helpers.js'

export interface TestRedis {
  readonly url: string
  readonly port: number
  /** Kills the server (SIGKILL: no goodbye to clients). */
  kill(): Promise<void>
  /** Freezes the server (SIGSTOP): connections stay open, nothing answers. */
  pause(): void
  resume(): void
  /** Starts it again on the same port, empty. */
  restart(): Promise<void>
  stop(): Promise<void>
}

async function launch(port: number): Promise<ChildProcess> {
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', tempDir('redis')], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let output = ''
  child.stdout!.setEncoding('utf8')
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (chunk: string) => {
      output += chunk
      if (output.includes('Ready to accept connections')) resolve()
    })
    child.once('error', (error) => reject(new Error(`cannot start redis-server: ${error.message}`)))
    child.once('exit', (code) => reject(new Error(`redis-server exited (${code}):\n${output}`)))
  })
  return child
}

/** Starts redis-server on `wanted` (a free port by default). */
export async function startRedis(wanted?: number): Promise<TestRedis> {
  if (spawnSync('redis-server', ['--version']).error !== undefined) {
    throw new Error('redis-server is not installed: `apt-get install -y redis-server` (.ci/run installs it)')
  }
  const port = wanted ?? (await freePort())
  let child: ChildProcess | null = await launch(port)
  const kill = async () => {
    if (child === null) return
    const exited = once(child, 'exit')
    child.kill('SIGKILL')
    await exited
    child = null
  }
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    kill,
    pause: () => child?.kill('SIGSTOP'),
    resume: () => child?.kill('SIGCONT'),
    async restart() {
      await kill()
      child = await launch(port)
    },
    stop: kill,
  }
}
