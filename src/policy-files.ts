// Reads a policy directory into sources for the pure compiler: the top-level *.yaml files and tests/*.yaml.
import { readdir, readFile } from 'node:fs/promises'
import { isAbsolute, join } from 'node:path'
import { compilePolicySet, PolicyError, type PolicySet, type PolicySource } from './policy/compile.js'
import { parseWatchlist } from './policy/signals.js'

async function yamlFiles(dir: string, prefix: string): Promise<PolicySource[]> {
  const entries = await readdir(join(dir, prefix), { withFileTypes: true })
  const names = entries.filter((entry) => entry.isFile() && /\.ya?ml$/.test(entry.name)).map((entry) => entry.name).sort()
  return Promise.all(names.map(async (name) => ({ file: prefix + name, text: await readFile(join(dir, prefix, name), 'utf8') })))
}

/** Reads and compiles the policy directory; throws PolicyError naming the file, path and problem. */
export async function loadPolicyDir(dir: string): Promise<PolicySet> {
  let sources: PolicySource[]
  try {
    sources = await yamlFiles(dir, '')
  } catch (error) {
    throw new PolicyError([`${dir}: (top): cannot read the policy directory: ${(error as Error).message}`])
  }
  try {
    sources.push(...(await yamlFiles(dir, 'tests/')))
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
  }
  const set = compilePolicySet(sources)
  const watchlist = set.signals.watchlist
  if (watchlist === null) return set
  // The watch-list named by signals.yaml (relative to the policy directory): read with the policies, so a
  // reload (SIGHUP) reads it again, and a bad line keeps the last good set like any policy problem.
  const problems: string[] = []
  let text: string
  try {
    text = await readFile(isAbsolute(watchlist.file) ? watchlist.file : join(dir, watchlist.file), 'utf8')
  } catch (error) {
    throw new PolicyError([`signals.yaml: watchlist.file: cannot read ${watchlist.file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`])
  }
  const hashes = parseWatchlist(watchlist.file, text, problems)
  if (problems.length > 0) throw new PolicyError(problems)
  return Object.freeze({ ...set, signals: Object.freeze({ ...set.signals, watchlist: Object.freeze({ ...watchlist, hashes }) }) })
}
