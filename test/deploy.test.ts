// The deployment files, checked statically (no Docker engine runs here): the compose stack is wired by
// names that exist, with the contract's ports and variables; Prometheus's config passes promtool; every
// dashboard panel reads only metrics the gateway exports; the Dockerfile builds what npm start runs.
import { execFile } from 'node:child_process'
import { cpSync, existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import { parse } from 'yaml'
import { environmentVariables } from '../src/config.js'
import { root, tempDir } from './helpers.js'
import { exportedSeries, metricsIn } from './metric-names.js'

const exec = promisify(execFile)
const docker = join(root, 'docker')
const compose = parse(readFileSync(join(docker, 'compose.yaml'), 'utf8'), { merge: true }) as {
  services: Record<
    string,
    {
      image?: string
      build?: { context: string; dockerfile: string }
      command?: string[]
      environment?: Record<string, string>
      ports?: string[]
      volumes?: string[]
      depends_on?: Record<string, { condition: string }>
      healthcheck?: { test: string[] }
      secrets?: string[]
      restart?: string
    }
  >
  volumes: Record<string, unknown>
  secrets?: Record<string, { environment?: string; file?: string }>
}
const services = compose.services
const gateways = Object.entries(services).filter(([name]) => name.startsWith('gateway-'))

t.test('compose: Redis with AOF, two gateway replicas, backends, Prometheus and Grafana', async (t) => {
  t.same(Object.keys(services).sort(), ['backends', 'gateway-a', 'gateway-b', 'grafana', 'prometheus', 'redis', 'state-init'])
  t.ok(services.redis!.command!.includes('--appendonly') && services.redis!.command!.includes('yes'), 'Redis persists with AOF')
  t.equal(gateways.length, 2)
})

t.test('compose: every gateway variable is one the gateway reads, and every URL names a service and its port', async (t) => {
  const backends = services.backends!.environment!
  for (const [name, service] of gateways) {
    const env = service.environment!
    for (const variable of Object.keys(env)) t.ok(environmentVariables.includes(variable), `${name}: ${variable} is a gateway variable`)
    // Compose fills ${VARIABLE} in at `up`; a stand-in value here, so the URL parses as it will then.
    const hostOf = (url: string) => new URL(url.replace(/\$\{[^}]*\}/g, 'stand-in')).hostname
    t.ok(services[hostOf(env.REDIS_URL!)], `${name}: REDIS_URL names the ${hostOf(env.REDIS_URL!)} service`)
    t.equal(new URL(env.DMV_URL!).port, backends.DMV_PORT, `${name}: DMV_URL port is the backends' DMV_PORT`)
    t.equal(new URL(env.CRIMINAL_HISTORY_URL!).port, backends.CRIMINAL_HISTORY_PORT, `${name}: CRIMINAL_HISTORY_URL port`)
    t.ok(services[hostOf(env.DMV_URL!)] && services[hostOf(env.CRIMINAL_HISTORY_URL!)], `${name}: the databases are services`)
    t.equal(env.HOST, '0.0.0.0', `${name}: listens on every interface inside its container`)
    t.match(service.ports![0], new RegExp(`:${env.PORT}$`), `${name}: publishes its PORT`)
    for (const dependency of Object.keys(service.depends_on ?? {})) t.ok(services[dependency], `${name} depends on ${dependency}, which exists`)
  }
  t.equal(new Set(gateways.map(([, service]) => service.environment!.GATEWAY_INSTANCE_ID)).size, 2, 'each replica its own audit chain')
  for (const variable of Object.keys(services.backends!.environment!)) t.ok(environmentVariables.includes(variable), `backends: ${variable}`)
})

t.test('compose: mounted folders and files exist, named volumes are declared, the image builds from the Dockerfile', async (t) => {
  for (const [name, service] of Object.entries(services)) {
    for (const volume of service.volumes ?? []) {
      const source = volume.split(':')[0]!
      if (source.startsWith('.')) t.ok(existsSync(join(docker, source)), `${name}: ${source} exists`)
      else t.ok(source in compose.volumes, `${name}: volume ${source} is declared`)
    }
    if (service.build !== undefined) t.ok(existsSync(join(docker, service.build.context, service.build.dockerfile)), `${name}: ${service.build.dockerfile} exists in the build context`)
  }
  t.ok(existsSync(join(root, services.backends!.command![1]!.replace('dist/src/', 'src/').replace(/\.js$/, '.ts'))), 'the backends command runs a built source file')
})

t.test('compose: no gateway seeds Redis; a one-shot state init creates the registry once, and the gateways wait for it', async (t) => {
  for (const [name, service] of gateways) {
    t.notOk('GATEWAY_SEED_SAMPLES' in service.environment!, `${name}: no GATEWAY_SEED_SAMPLES (a gateway never seeds a Redis)`)
    t.equal(service.depends_on?.['state-init']?.condition, 'service_completed_successfully', `${name}: starts once the registry exists`)
  }
  const init = services['state-init']!
  const command = init.command!
  t.same(command.slice(0, 4), ['node', 'bin/gatewayctl.js', 'state', 'init'], 'runs gatewayctl state init')
  t.ok(command.includes('--samples'), 'with the sample agencies (the demo)')
  t.ok(command.includes('--if-new'), 'and succeeds, changing nothing, on a Redis that holds a registry (every later start)')
  t.ok(existsSync(join(root, 'src/cli/gatewayctl.ts')) && existsSync(join(root, 'bin/gatewayctl.js')), 'the command exists in the image')
  t.equal(init.restart, 'no', 'runs once per up, never restarted')
  t.equal(init.depends_on?.redis?.condition, 'service_healthy')
  t.equal(init.environment!.REDIS_URL, gateways[0]![1].environment!.REDIS_URL, "the gateways' Redis")
  for (const variable of Object.keys(init.environment!)) t.ok(environmentVariables.includes(variable), `state-init: ${variable} is a variable gatewayctl reads`)
  // Its STATE_DIR records that the registry was made: on a Redis that lost its data, init fails (restore
  // it with gatewayctl state import) instead of creating the samples again. That record must outlive the container.
  const stateDir = init.environment!.STATE_DIR!
  const volume = (init.volumes ?? []).map((entry) => entry.split(':')).find(([source, target]) => source! in compose.volumes && stateDir.startsWith(`${target}/`))
  t.ok(volume, `state-init: ${stateDir} lies on a named volume`)
})

/** Where compose mounts the metrics_token secret in the Prometheus container, and so where prometheus.yml reads it. */
const metricsTokenFile = '/run/secrets/metrics_token'

t.test('prometheus.yml passes promtool, scrapes both replicas by service name, and loads the rules', async (t) => {
  // promtool checks that the token file exists: a copy of the folder, the secret's path pointing at a stand-in.
  const copy = tempDir('prometheus-config')
  cpSync(join(docker, 'prometheus'), copy, { recursive: true })
  writeFileSync(join(copy, 'metrics_token'), 'stand-in-token-0123456789\n')
  const text = readFileSync(join(docker, 'prometheus/prometheus.yml'), 'utf8')
  t.ok(text.includes(metricsTokenFile))
  writeFileSync(join(copy, 'prometheus.yml'), text.replaceAll(metricsTokenFile, join(copy, 'metrics_token')))
  const check = await exec('promtool', ['check', 'config', 'prometheus.yml'], { cwd: copy })
  t.match(check.stdout, /SUCCESS/)
  const config = parse(text) as { scrape_configs: { static_configs: { targets: string[] }[] }[] }
  const targets = config.scrape_configs.flatMap((scrape) => scrape.static_configs.flatMap((group) => group.targets))
  t.same(targets.sort(), gateways.map(([name, service]) => `${name}:${service.environment!.PORT}`).sort())
})

t.test('compose: the gateways require METRICS_TOKEN on /metrics, and Prometheus sends it from a secret', async (t) => {
  for (const [name, service] of gateways) t.match(service.environment!.METRICS_TOKEN, /^\$\{METRICS_TOKEN:\?[^}]*\}$/, `${name}: METRICS_TOKEN from the environment, required`)
  t.same(compose.secrets?.metrics_token, { environment: 'METRICS_TOKEN' }, 'the secret metrics_token holds that same variable')
  t.ok(services.prometheus!.secrets?.includes('metrics_token'), 'mounted in the Prometheus container (at /run/secrets/metrics_token)')
  const config = parse(readFileSync(join(docker, 'prometheus/prometheus.yml'), 'utf8')) as { scrape_configs: { job_name: string; authorization?: { type?: string; credentials_file?: string; credentials?: string } }[] }
  for (const scrape of config.scrape_configs) {
    t.equal(scrape.authorization?.type ?? 'Bearer', 'Bearer', `${scrape.job_name}: a bearer token`)
    t.equal(scrape.authorization?.credentials_file, metricsTokenFile, `${scrape.job_name}: read from the secret's file`)
    t.equal(scrape.authorization?.credentials, undefined, `${scrape.job_name}: no token written in the configuration`)
  }
})

t.test('the dashboard: provisioned datasource, no dead panel, only exported metrics and defined recording rules', async (t) => {
  const dashboard = JSON.parse(readFileSync(join(docker, 'grafana/dashboards/clets-gateway.json'), 'utf8')) as { panels: { title: string; datasource: { uid: string }; targets: { expr: string }[] }[] }
  const datasource = (parse(readFileSync(join(docker, 'grafana/provisioning/datasources/prometheus.yaml'), 'utf8')) as { datasources: { uid: string; url: string }[] }).datasources[0]!
  t.ok(services[new URL(datasource.url).hostname], 'the datasource URL names the prometheus service')
  const exported = await exportedSeries()
  const rules = readFileSync(join(docker, 'prometheus/rules.yml'), 'utf8')
  const recorded = new Set([...rules.matchAll(/record: (\S+)/g)].map((match) => match[1]!))
  const titles = ['Block rate by rule', 'Immigration lookups on non-criminal data', 'Top agencies by denials', 'Decisions by purpose', 'Query latency p50 / p99', 'Audit ledger health', 'Redis health', 'Sanctioned agencies']
  for (const title of titles) t.ok(dashboard.panels.some((panel) => panel.title === title), `a panel "${title}"`)
  for (const panel of dashboard.panels) {
    t.equal(panel.datasource.uid, datasource.uid, `${panel.title}: the provisioned datasource`)
    t.ok(panel.targets.length > 0, `${panel.title}: has a query`)
    for (const { expr } of panel.targets) {
      const names = metricsIn(expr)
      const recordings = [...expr.matchAll(/\bgateway:[a-z0-9_:]+/g)].map((match) => match[0])
      t.ok(names.length + recordings.length > 0, `${panel.title}: reads a gateway metric`)
      for (const name of names) t.ok(exported.has(name), `${panel.title}: ${name} is exported`)
      for (const name of recordings) t.ok(recorded.has(name), `${panel.title}: ${name} is a recording rule`)
    }
  }
})

t.test('compose: each service has a healthcheck that fits it, and waits for what it needs to be healthy', async (t) => {
  const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8')
  t.match(dockerfile, /HEALTHCHECK[\s\S]*\/readyz/, "the gateways' check: the image's /readyz")
  for (const [name, service] of Object.entries(services)) {
    if (name.startsWith('gateway-')) {
      t.notOk(service.healthcheck, `${name}: the image's healthcheck`)
      t.equal(service.depends_on?.redis?.condition, 'service_healthy', `${name}: starts once Redis is healthy`)
      t.equal(service.depends_on?.backends?.condition, 'service_healthy', `${name}: and the databases`)
    } else if (name !== 'state-init') {
      // state-init is a one-shot: the gateways wait for it to exit 0, not to be healthy.
      t.ok(service.healthcheck?.test?.length, `${name}: a healthcheck of its own`)
    }
  }
  // Regression: the backends service inherited the image's /readyz check, which only a gateway answers.
  t.match(services.backends!.healthcheck!.test.join(' '), /9101[\s\S]*9102[\s\S]*\/healthz/, 'backends: both databases answer /healthz')
  t.notMatch(services.backends!.healthcheck!.test.join(' '), /readyz/)
  t.equal(services.grafana!.depends_on?.prometheus?.condition, 'service_healthy')
})

t.test('compose: Redis requires a password the gateways use, and Grafana has no admin/admin', async (t) => {
  const redisCommand = services.redis!.command!
  t.match(redisCommand[redisCommand.indexOf('--requirepass') + 1], /^\$\{REDIS_PASSWORD:\?/, 'a password from the environment, required')
  for (const [name, service] of gateways) t.match(service.environment!.REDIS_URL, /^redis:\/\/:\$\{REDIS_PASSWORD:\?[^}]*\}@redis:6379$/, `${name}: REDIS_URL carries it`)
  t.match(services.grafana!.environment!.GF_SECURITY_ADMIN_PASSWORD, /^\$\{GRAFANA_ADMIN_PASSWORD:\?/, "Grafana's admin password is the deployment's own")
})

t.test('the Dockerfile: at the top, build stage, slim non-root runtime on the Node major of engines and CI, production dependencies, /readyz healthcheck', async (t) => {
  const dockerfile = readFileSync(join(root, 'Dockerfile'), 'utf8')
  const stages = [...dockerfile.matchAll(/^FROM node:(\d+)-\S+/gm)]
  t.equal(stages.length, 2, 'two stages')
  const engines = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { engines: { node: string } }).engines.node
  const major = Number(/(\d+)/.exec(engines)![1])
  for (const stage of stages) t.equal(Number(stage[1]), major, `node ${stage[1]}: the major of engines (${engines})`)
  t.equal(Number(process.versions.node.split('.')[0]), major, 'and of the Node that runs these tests (CI)')
  t.match(dockerfile, /npm ci --omit=dev/)
  t.match(dockerfile, /^USER node$/m)
  t.match(dockerfile, /HEALTHCHECK[\s\S]*\/readyz/)
  t.match(dockerfile, /CMD \["node", "dist\/src\/main.js"\]/)
  const build = JSON.parse(readFileSync(join(root, 'tsconfig.build.json'), 'utf8')) as { include: string[] }
  t.same(build.include, ['src/**/*.ts'], 'the image compiles src only')
  t.match(readFileSync(join(root, '.dockerignore'), 'utf8'), /^node_modules$/m)
  // The console's files sit beside dist/ as in a checkout: src/http/console.ts finds them at ../../../console.
  t.match(dockerfile, /^COPY console \.\/console$/m, "the operators' console is in the image")
  t.notMatch(readFileSync(join(root, '.dockerignore'), 'utf8'), /^console/m)
})
