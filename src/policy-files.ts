// Reads a policy directory into sources for the pure compiler: the top-level *.yaml files and tests/*.yaml.
import { readdir, readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { compilePolicySet, PolicyError, type PolicySet, type PolicySource } from './policy/compile.js'

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
  return compilePolicySet(sources)
}
