// A real headless Chromium for the console's tests: Debian's chromium driven by playwright-core, with a
// fresh profile each time and nothing reaching out (no sync, no updates, no background networking).
// A missing chromium fails the test with what to install; it is never skipped.
import { existsSync, rmSync } from 'node:fs'
import { chromium, type BrowserContext, type Page } from 'playwright-core'
import { tempDir } from './helpers.js'

/** Debian's chromium (CHROMIUM_PATH where it lives elsewhere). */
export const chromiumPath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'

export interface TestBrowser {
  readonly context: BrowserContext
  readonly page: Page
  /** Console errors and uncaught exceptions of the page (a CSP violation is one): a test expects none. */
  readonly problems: string[]
  close(): Promise<void>
}

export async function startBrowser(): Promise<TestBrowser> {
  if (!existsSync(chromiumPath)) {
    throw new Error(`chromium is not installed at ${chromiumPath}: \`apt-get install -y chromium\` (.ci/run installs it), or set CHROMIUM_PATH`)
  }
  const profile = tempDir('chromium-profile')
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath,
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    viewport: { width: 1280, height: 900 },
  })
  context.setDefaultTimeout(15_000)
  const page = context.pages()[0] ?? (await context.newPage())
  const problems: string[] = []
  page.on('console', (message) => {
    // An API answer of 4xx is shown on the page as the test expects; Chromium logs it as an error too.
    if (message.type() === 'error' && !/^Failed to load resource: the server responded with a status of 4\d\d/.test(message.text())) problems.push(message.text())
  })
  page.on('pageerror', (error) => problems.push(error.message))
  return {
    context,
    page,
    problems,
    async close() {
      await context.close()
      rmSync(profile, { recursive: true, force: true })
    },
  }
}
