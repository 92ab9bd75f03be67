#!/usr/bin/env node
// The gatewayctl command; the code is compiled TypeScript under dist/ (npm ci builds it).
import('../dist/src/cli/gatewayctl.js').catch((error) => {
  if (error && error.code === 'ERR_MODULE_NOT_FOUND') {
    process.stderr.write('gatewayctl: the build is missing; run `npm run build` (npm ci does it)\n')
    process.exit(2)
  }
  throw error
})
