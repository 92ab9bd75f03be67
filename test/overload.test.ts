// Load shedding, driven for real: the gateway runs in this process, so blocking this event loop is
// blocking the gateway's. Past the threshold, queries are refused at once with 503 overloaded and
// Retry-After, /readyz says so, the metric counts; once the loop is healthy again, queries are served.
import t from 'tap'
import { LoadShedder } from '../src/overload.js'
import { call, query, startTestGateway, token } from './helpers.js'

const gw = await startTestGateway({ env: { SHED_EVENT_LOOP_DELAY_MS: '100' } })
t.teardown(() => gw.close())
const body = { database: 'dmv.driver_license', purpose: 'traffic_enforcement', subject: { licenseNumber: 'A1234567' } }

function blockEventLoop(ms: number): void {
  const until = performance.now() + ms
  while (performance.now() < until) {
    // a stalled event loop, as under a CPU-bound overload
  }
}

/** Waits (at most 3 s) until the gateway serves again: a busy test machine can stall it by itself. */
async function served(sub: string): Promise<number> {
  let status = 0
  for (let i = 0; i < 30 && status !== 200; i++) {
    status = (await query(gw.url, body, token({ sub: `${sub}-${i}` }))).status
    if (status !== 200) await new Promise((resolve) => setTimeout(resolve, 100))
  }
  return status
}

t.test('an event loop stalled past the threshold sheds queries, then recovers', async (t) => {
  t.equal(await served('before'), 200)
  blockEventLoop(300)
  await new Promise((resolve) => setTimeout(resolve, 20)) // the shedder's overdue look sees the stall
  const shed = await query(gw.url, body, token({ sub: 'during' }))
  t.equal(shed.status, 503)
  t.equal(shed.body.error.code, 'overloaded')
  t.equal(shed.headers['retry-after'], '1')
  const ready = await call(gw.url, 'GET', '/readyz')
  t.equal(ready.status, 503)
  t.equal(ready.body.checks.load, 'shedding')
  t.match((await call(gw.url, 'GET', '/metrics')).body, /^gateway_load_shed_total [1-9]/m)
  t.equal(await served('after'), 200, 'served again once three intervals were healthy')
  t.equal((await call(gw.url, 'GET', '/readyz')).status, 200)
})

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

t.test('a stall while the gateway starts is not overload: the shedder judges only once armed', async (t) => {
  const shedder = new LoadShedder({ maxEventLoopDelayMs: 50, maxHeapUsedRatio: 0, intervalMs: 20 })
  t.teardown(() => shedder.stop())
  await pause(30) // the delay monitor records from its second tick on
  blockEventLoop(200) // loading, before listen
  await pause(60)
  t.equal(shedder.overloaded, false, 'not armed: the start-up stall refuses nothing')
  shedder.arm()
  t.equal(shedder.overloaded, false)
  await pause(60)
  t.equal(shedder.overloaded, false, 'armed, healthy')
  blockEventLoop(200)
  let shed = false
  for (let i = 0; i < 10 && !shed; i++) {
    await pause(5)
    shed = shedder.overloaded
  }
  t.equal(shed, true, 'armed, a stall sheds')
})

t.test('a stall just before arm() is forgotten', async (t) => {
  const shedder = new LoadShedder({ maxEventLoopDelayMs: 50, maxHeapUsedRatio: 0, intervalMs: 20 })
  t.teardown(() => shedder.stop())
  await pause(30)
  blockEventLoop(200)
  shedder.arm() // as when listen() resolves right after a stall, before the loop turned again
  for (let i = 0; i < 8; i++) {
    await pause(10)
    t.equal(shedder.overloaded, false, `${(i + 1) * 10} ms after arm()`)
  }
})
