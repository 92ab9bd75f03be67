// Summarises a V8 CPU profile (node --cpu-prof) by self time: per function and per package or file,
// the share of samples. `node dist/bench/profile-summary.js FILE.cpuprofile [top]`.
import { readFileSync } from 'node:fs'

interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
  hitCount?: number
}
const [file, top = '40'] = process.argv.slice(2)
if (file === undefined) {
  process.stderr.write('usage: profile-summary FILE.cpuprofile [top]\n')
  process.exit(2)
}
const profile = JSON.parse(readFileSync(file, 'utf8')) as { nodes: ProfileNode[]; samples: number[] }
const byId = new Map(profile.nodes.map((node) => [node.id, node]))
const hits = new Map<number, number>()
for (const sample of profile.samples) hits.set(sample, (hits.get(sample) ?? 0) + 1)
// Shares are of the samples the thread was busy in: idle time says nothing about where CPU goes.
const idle = new Set(profile.nodes.filter((node) => node.callFrame.functionName === '(idle)').map((node) => node.id))
const total = profile.samples.filter((sample) => !idle.has(sample)).length
const place = (url: string) => {
  const modules = url.lastIndexOf('node_modules/')
  if (modules >= 0) return url.slice(modules + 13).split('/').slice(0, url.slice(modules + 13).startsWith('@') ? 2 : 1).join('/')
  if (url.startsWith('node:')) return url
  const dist = url.indexOf('/dist/')
  return dist >= 0 ? url.slice(dist + 6) : url === '' ? '(native)' : url
}
const functions = new Map<string, number>()
const places = new Map<string, number>()
for (const [id, count] of hits) {
  if (idle.has(id)) continue
  const frame = byId.get(id)!.callFrame
  const where = place(frame.url)
  const name = `${frame.functionName || '(anonymous)'} ${where}${frame.url === '' ? '' : `:${frame.lineNumber + 1}`}`
  functions.set(name, (functions.get(name) ?? 0) + count)
  places.set(where, (places.get(where) ?? 0) + count)
}
const show = (title: string, map: Map<string, number>) => {
  process.stdout.write(`${title}\n`)
  for (const [name, count] of [...map].sort((a, b) => b[1] - a[1]).slice(0, Number(top))) process.stdout.write(`${((count / total) * 100).toFixed(1).padStart(5)}%  ${name}\n`)
}
show(`by place (${total} busy samples of ${profile.samples.length})`, places)
show('by function', functions)
