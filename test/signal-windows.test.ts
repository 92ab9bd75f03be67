// Daily and hourly signal windows follow the policy's time zone (signals.yaml `timeZone`, America/
// Los_Angeles as shipped): a day is California's day, midnight to midnight, not UTC's, which starts at
// 4 or 5 p.m. there. Windows of minutes (shared_login's 5) are not shifted.
import t from 'tap'
import { loadPolicyDir } from '../src/policy-files.js'
import { ZoneClock } from '../src/policy/signals.js'
import { planSignals, type Observation } from '../src/signals/detect.js'
import { policyDir } from './helpers.js'

const policy = (await loadPolicyDir(policyDir)).signals

t.test("the zone's offset, summer and winter, and UTC", async (t) => {
  const zone = new ZoneClock('America/Los_Angeles')
  t.equal(zone.offsetAt(Date.parse('2026-06-01T12:00:00Z')), -7 * 3_600_000, 'PDT')
  t.equal(zone.offsetAt(Date.parse('2026-12-01T12:00:00Z')), -8 * 3_600_000, 'PST')
  t.equal(zone.offsetAt(Date.parse('2026-12-01T12:30:00Z')), -8 * 3_600_000, 'the same hour, kept')
  t.equal(new ZoneClock('UTC').offsetAt(Date.parse('2026-06-01T12:00:00Z')), 0)
  t.equal(policy.zone.timeZone, 'America/Los_Angeles', 'as shipped')
})

/** The window a licensing_terms count (a day's window) of a query at `iso` falls in. */
function dayWindowAt(iso: string, id: string): string {
  const query: Observation = { id, ori: 'CA0990000', sub: 'clerk-1', officer: 'clerk-1', terminal: null, source: '127.0.0.1', registered: true, time: Date.parse(iso), purpose: 'criminal_investigation', justification: 'CCW permit review (invented)' }
  const plan = planSignals(policy, query, null).find((planned) => planned.kind === 'licensing_terms')
  t.ok(plan, `a licensing_terms count at ${iso}`)
  return plan!.windowStart
}

t.test("a day's window starts at California's midnight", async (t) => {
  // 23:59 and 00:01 Pacific daylight time, on either side of midnight: two days.
  t.equal(dayWindowAt('2026-06-02T06:59:00Z', 'd-1'), '2026-06-01T07:00:00.000Z', 'May 31 ended, June 1 until 23:59 PDT')
  t.equal(dayWindowAt('2026-06-02T07:01:00Z', 'd-2'), '2026-06-02T07:00:00.000Z', 'June 2 from 00:00 PDT')
  // 16:30 and 17:30 PDT: one California afternoon, which UTC's midnight (17:00 PDT) would cut in two.
  t.equal(dayWindowAt('2026-06-02T23:30:00Z', 'd-3'), dayWindowAt('2026-06-03T00:30:00Z', 'd-4'), 'one day, across UTC midnight')
  // In winter the day starts at 08:00 UTC.
  t.equal(dayWindowAt('2026-12-02T10:00:00Z', 'd-5'), '2026-12-02T08:00:00.000Z', 'PST')
})
