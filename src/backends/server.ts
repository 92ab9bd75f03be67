// The simulated databases: a DMV service (driver licences and ID cards; vehicle registrations) and a
// criminal-history service (state rap sheets). Plain node:http, so the benchmark's "direct backend"
// baseline measures the database and nothing of ours. Each search takes the subject as a JSON body and
// answers `{ "records": [...] }`.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { nameAndBirthKey, type Population } from './population.js'

type Search = (subject: Record<string, unknown>) => readonly unknown[] | undefined

export interface RunningBackend {
  readonly name: string
  readonly url: string
  readonly server: Server
  close(): Promise<void>
}

const maxBody = 64 * 1024
const text = (value: unknown): value is string => typeof value === 'string' && value.length > 0 && value.length <= 64

function byNameAndBirth<T>(index: ReadonlyMap<string, T[]>): Search {
  return (subject) => {
    if (!text(subject.lastName) || !text(subject.firstName) || !text(subject.dateOfBirth)) return undefined
    return index.get(nameAndBirthKey(subject.lastName, subject.firstName, subject.dateOfBirth)) ?? []
  }
}

function one<T>(field: string, index: ReadonlyMap<string, T>): Search {
  return (subject) => {
    const value = subject[field]
    if (!text(value)) return undefined
    const record = index.get(value.toUpperCase())
    return record === undefined ? [] : [record]
  }
}

/** The first search that understands the subject's fields answers. */
function either(...searches: Search[]): Search {
  return (subject) => {
    for (const search of searches) {
      const records = search(subject)
      if (records !== undefined) return records
    }
    return undefined
  }
}

function send(response: ServerResponse, status: number, body: unknown): void {
  const payload = JSON.stringify(body)
  response.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) })
  response.end(payload)
}

function handler(routes: ReadonlyMap<string, Search>) {
  return (request: IncomingMessage, response: ServerResponse) => {
    if (request.method === 'GET' && request.url === '/healthz') return send(response, 200, { status: 'ok' })
    const search = request.method === 'POST' && request.url !== undefined ? routes.get(request.url) : undefined
    if (search === undefined) {
      request.resume()
      return send(response, 404, { error: 'not found' })
    }
    const chunks: Buffer[] = []
    let size = 0
    request.on('data', (chunk: Buffer) => {
      size += chunk.length
      if (size <= maxBody) chunks.push(chunk)
    })
    request.on('end', () => {
      if (size > maxBody) return send(response, 413, { error: 'body too large' })
      let subject: unknown
      try {
        subject = JSON.parse(Buffer.concat(chunks).toString('utf8'))
      } catch {
        return send(response, 400, { error: 'invalid JSON' })
      }
      const records = subject !== null && typeof subject === 'object' ? search(subject as Record<string, unknown>) : undefined
      if (records === undefined) return send(response, 400, { error: 'unsupported lookup' })
      send(response, 200, { records })
    })
  }
}

async function listen(name: string, routes: ReadonlyMap<string, Search>, port: number, host: string): Promise<RunningBackend> {
  const server = createServer({ keepAliveTimeout: 60_000 }, handler(routes))
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => resolve())
  })
  const address = server.address() as AddressInfo
  return {
    name,
    url: `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`,
    server,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}

/** Starts the DMV service: /v1/driver-licenses/search and /v1/vehicle-registrations/search. */
export function startDmv(population: Population, port = 0, host = '127.0.0.1'): Promise<RunningBackend> {
  return listen(
    'dmv',
    new Map([
      ['/v1/driver-licenses/search', either(one('licenseNumber', population.byLicenseNumber), byNameAndBirth(population.licensesByNameAndBirth))],
      ['/v1/vehicle-registrations/search', either(one('plate', population.byPlate), one('vin', population.byVin))],
    ]),
    port,
    host,
  )
}

/** Starts the criminal-history service: /v1/rap-sheets/search by name and date of birth. */
export function startCriminalHistory(population: Population, port = 0, host = '127.0.0.1'): Promise<RunningBackend> {
  return listen('criminal_history', new Map([['/v1/rap-sheets/search', byNameAndBirth(population.rapSheetsByNameAndBirth)]]), port, host)
}
