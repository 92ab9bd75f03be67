// The package's version, read once from package.json (dist/src/version.js sits two folders below it):
// gateway_build_info and `gatewayctl --version` say the same.
import { readFileSync } from 'node:fs'

export const packageVersion = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version
