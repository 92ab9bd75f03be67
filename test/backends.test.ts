// The simulated databases: a deterministic population, and lookups over HTTP by every contract field.
import t from 'tap'
import { generatePopulation, nameAndBirthKey } from '../src/backends/population.js'
import { startCriminalHistory, startDmv } from '../src/backends/server.js'
import { call, testPopulation } from './helpers.js'

t.test('the same seed and size give the same people; the README licence belongs to person 0', async (t) => {
  const one = generatePopulation(500, 54)
  const two = generatePopulation(500, 54)
  t.same(one.licenses.slice(0, 50), two.licenses.slice(0, 50))
  t.equal(one.licenses[0]!.licenseNumber, 'A1234567')
  t.not(generatePopulation(500, 55).licenses[0]!.person.lastName + generatePopulation(500, 55).licenses[0]!.person.dateOfBirth, one.licenses[0]!.person.lastName + one.licenses[0]!.person.dateOfBirth)
})

t.test('the default population: 100,000 people with unique licences, plates and VINs, and rap sheets for a share', async (t) => {
  const population = generatePopulation(100_000, 54)
  t.equal(population.licenses.length, 100_000)
  t.equal(population.byLicenseNumber.size, 100_000, 'licence numbers never repeat')
  t.equal(population.byPlate.size, population.vehicles.length, 'plates never repeat')
  t.equal(population.byVin.size, population.vehicles.length, 'VINs never repeat')
  t.ok(population.vehicles.length > 60_000, `${population.vehicles.length} vehicles`)
  t.ok(population.rapSheets.length > 10_000 && population.rapSheets.length < 15_000, `${population.rapSheets.length} rap sheets`)
  const badLicences = population.licenses.filter((license) => !/^[A-Z][0-9]{7}$/.test(license.licenseNumber) || !/^\p{L}[\p{L}' -]{0,49}$/u.test(license.person.lastName))
  t.same(badLicences.slice(0, 3), [], 'every licence number and name passes the gateway\'s own subject validation')
  const badVehicles = population.vehicles.filter((vehicle) => !/^[A-HJ-NPR-Z0-9]{17}$/.test(vehicle.vin) || !/^[1-9][A-Z]{3}[0-9]{3}$/.test(vehicle.plate))
  t.same(badVehicles.slice(0, 3), [], 'every plate and VIN is well formed')
})

t.test('the services answer each lookup, and 400 for a lookup they do not know', async (t) => {
  const population = testPopulation()
  const dmv = await startDmv(population)
  const criminalHistory = await startCriminalHistory(population)
  t.teardown(async () => {
    await dmv.close()
    await criminalHistory.close()
  })
  const person = population.licenses[7]!
  const byName = await call(dmv.url, 'POST', '/v1/driver-licenses/search', { body: { lastName: person.person.lastName, firstName: person.person.firstName, dateOfBirth: person.person.dateOfBirth } })
  t.ok(byName.body.records.some((record: { licenseNumber: string }) => record.licenseNumber === person.licenseNumber))
  const sheet = population.rapSheets[3]!
  const rap = await call(criminalHistory.url, 'POST', '/v1/rap-sheets/search', { body: { lastName: sheet.person.lastName, firstName: sheet.person.firstName, dateOfBirth: sheet.person.dateOfBirth } })
  t.same(rap.body.records, population.rapSheetsByNameAndBirth.get(nameAndBirthKey(sheet.person.lastName, sheet.person.firstName, sheet.person.dateOfBirth)))
  t.equal((await call(dmv.url, 'POST', '/v1/vehicle-registrations/search', { body: { color: 'RED' } })).status, 400)
  t.equal((await call(dmv.url, 'POST', '/v1/driver-licenses/search', { raw: '{', headers: { 'content-type': 'application/json' } })).status, 400)
  t.equal((await call(dmv.url, 'POST', '/v1/rap-sheets/search', { body: {} })).status, 404, 'the DMV has no rap sheets')
})
