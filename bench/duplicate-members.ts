// What the duplicate-member check costs on the query path (src/upstream/pools.ts, namesAMemberTwice):
// every answer with records is checked before it goes out, so that no record whose meaning depends on
// the parser reading it (`{"status":"VALID","status":"REVOKED"}`) reaches a terminal. Against the
// JSON.parse the upstream already pays for every answer, and against two other ways to check: compare
// the text with JSON.stringify of the parsed records (exact only for a database that writes compact
// JSON, and as dear as the parse), and a set of names per object (what a JSON scanner would do). The
// check is measured twice: on compact JSON, which the cheap bound (the `":` count) settles, and on
// text with a space before each colon, which the bound leaves to the scan of every string.
// `node dist/bench/duplicate-members.js` (BENCH_CALLS, default 300,000 answers a run).
import { generatePopulation } from '../src/backends/population.js'
import { namesAMemberTwice } from '../src/upstream/pools.js'
import { measure } from './micro.js'

const calls = Number(process.env.BENCH_CALLS ?? 300_000)
const rounds = 5
const population = generatePopulation(20_000, 54)
// Answers as a database sends them: one licence record, and three rap sheets (a name-and-birth search).
const kinds = {
  'one licence record': Array.from({ length: 256 }, (_, n) => JSON.stringify([population.licenses[(n * 97) % population.licenses.length]])),
  'three rap sheets': Array.from({ length: 256 }, (_, n) => JSON.stringify([0, 1, 2].map((k) => population.rapSheets[(n * 7 + k) % population.rapSheets.length]))),
}

/** A set of names per object, by a recursive descent over the text (the text is valid JSON). */
function setScan(text: string): boolean {
  let at = 0
  let repeated = false
  const skipString = () => {
    const start = ++at
    while (text.charCodeAt(at) !== 0x22) at += text.charCodeAt(at) === 0x5c ? 2 : 1
    return text.slice(start, at++)
  }
  const space = () => {
    for (let c = text.charCodeAt(at); c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09; c = text.charCodeAt(++at));
  }
  const value = (): void => {
    space()
    const c = text.charCodeAt(at)
    if (c === 0x7b) {
      at++
      const names = new Set<string>()
      for (space(); text.charCodeAt(at) !== 0x7d; space()) {
        if (text.charCodeAt(at) === 0x2c) at++
        space()
        const name = JSON.parse(`"${skipString()}"`) as string
        if (names.has(name)) repeated = true
        names.add(name)
        space()
        at++ // :
        value()
      }
      at++
    } else if (c === 0x5b) {
      at++
      for (space(); text.charCodeAt(at) !== 0x5d; space()) {
        if (text.charCodeAt(at) === 0x2c) at++
        value()
      }
      at++
    } else if (c === 0x22) skipString()
    else while (!/[,\]}\s]/.test(text[at]!)) at++
  }
  value()
  return repeated
}

let sink = 0
for (const [kind, texts] of Object.entries(kinds)) {
  const parsed = texts.map((text) => JSON.parse(text) as unknown)
  // The same records with a space before each colon: the cheap bound does not apply, every string is scanned.
  const spaced = texts.map((text) => text.replaceAll('":', '" :'))
  const variants: Record<string, () => void> = {
    'JSON.parse (paid already, for scale)': () => {
      for (let n = 0; n < calls; n++) sink += (JSON.parse(texts[n & 255]!) as unknown[]).length
    },
    'check (now): the bound settles it': () => {
      for (let n = 0; n < calls; n++) sink += namesAMemberTwice(texts[n & 255]!, parsed[n & 255]) ? 0 : 1
    },
    'check (now): `"name" : value`, the scan': () => {
      for (let n = 0; n < calls; n++) sink += namesAMemberTwice(spaced[n & 255]!, parsed[n & 255]) ? 0 : 1
    },
    'JSON.stringify(parsed) === text': () => {
      for (let n = 0; n < calls; n++) sink += JSON.stringify(parsed[n & 255]) === texts[n & 255] ? 1 : 0
    },
    'a set of names per object': () => {
      for (let n = 0; n < calls; n++) sink += setScan(texts[n & 255]!) ? 0 : 1
    },
  }
  const medians = measure(variants, calls, rounds)
  if (sink === 0) throw new Error('no variant checked anything')
  console.log(`Node ${process.version}, ${calls} answers of ${kind} (~${Math.round(texts[0]!.length)} bytes) a run, median of ${rounds - 1} runs after one to warm up`)
  for (const [name, nanos] of Object.entries(medians)) console.log(`  ${name.padEnd(44)} ${nanos.toFixed(0)} ns an answer`)
}
