// The development signing secret. With neither GATEWAY_JWT_SECRET nor GATEWAY_JWT_PUBLIC_KEYS set,
// `npm start` makes a random one under STATE_DIR (mode 0600) and `gatewayctl token` reads it there,
// so the two-command quick start works without choosing a secret. Production sets public keys.
import { randomBytes } from 'node:crypto'
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

export const devSecretFile = (stateDir: string) => join(stateDir, 'dev-jwt-secret')

/** Reads the development secret; creates it first when `create` is set and none exists. */
export function developmentSecret(stateDir: string, create: boolean): string | undefined {
  const path = devSecretFile(stateDir)
  try {
    return readFileSync(path, 'utf8').trim()
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || !create) return undefined
  }
  mkdirSync(stateDir, { recursive: true, mode: 0o700 })
  const secret = randomBytes(32).toString('base64url')
  try {
    writeFileSync(path, `${secret}\n`, { flag: 'wx', mode: 0o600 })
    return secret
  } catch (error) {
    // Another process made it first: use theirs.
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return readFileSync(path, 'utf8').trim()
    throw error
  }
}
