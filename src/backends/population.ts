// A deterministic synthetic population for the simulated DMV and criminal-history databases. The same
// seed and size always give the same people, so the README's examples and the tests can name them.
// Everything here is invented; the records carry home addresses on purpose, because that is the
// personal information S.B. 54 keeps from immigration enforcement.

const lastNames = [
  'GARCIA', 'HERNANDEZ', 'LOPEZ', 'MARTINEZ', 'GONZALEZ', 'RODRIGUEZ', 'NGUYEN', 'SMITH', 'JOHNSON', 'WILLIAMS',
  'BROWN', 'JONES', 'MILLER', 'DAVIS', 'KIM', 'LEE', 'PARK', 'CHEN', 'WANG', 'PATEL', 'SINGH', 'TRAN', 'PEREZ',
  'SANCHEZ', 'RAMIREZ', 'TORRES', 'FLORES', 'RIVERA', 'GOMEZ', 'DIAZ', 'REYES', 'MORALES', 'CRUZ', 'ORTIZ',
  'GUTIERREZ', 'CHAVEZ', 'RAMOS', 'RUIZ', 'ALVAREZ', 'MENDOZA', 'CASTILLO', 'JIMENEZ', 'MORENO', 'ROMERO',
  'WILSON', 'ANDERSON', 'TAYLOR', 'THOMAS', 'MOORE', 'JACKSON', 'MARTIN', 'THOMPSON', 'WHITE', 'HARRIS',
  'CLARK', 'LEWIS', 'ROBINSON', 'WALKER', 'YOUNG', 'ALLEN', 'WRIGHT', 'SCOTT', 'GREEN', 'BAKER', 'ADAMS',
  'NELSON', 'HILL', 'CAMPBELL', 'MITCHELL', 'ROBERTS', 'CARTER', 'PHILLIPS', 'EVANS', 'TURNER', 'PHAM',
  'LE', 'HUYNH', 'WONG', 'LIU', 'YANG', 'ZHANG', 'HUANG', 'SHAH', 'KHAN', 'ALI', 'COHEN', "O'BRIEN",
]
const firstNames = [
  'MARIA', 'JOSE', 'JUAN', 'LUIS', 'CARLOS', 'ANA', 'SOFIA', 'DANIEL', 'DAVID', 'MICHAEL', 'JAMES', 'JOHN',
  'ROBERT', 'JENNIFER', 'LINDA', 'ELIZABETH', 'SARAH', 'JESSICA', 'EMILY', 'ASHLEY', 'ANDREW', 'JOSHUA',
  'CHRISTOPHER', 'MATTHEW', 'ANTHONY', 'KEVIN', 'BRIAN', 'JASON', 'MINH', 'THANH', 'WEI', 'LI', 'HYUN',
  'JI-WOO', 'PRIYA', 'ARJUN', 'FATIMA', 'OMAR', 'AISHA', 'YESENIA', 'GUADALUPE', 'ALEJANDRO', 'FERNANDO',
  'RICARDO', 'VERONICA', 'ALMA', 'ROSA', 'ELENA', 'ISABEL', 'GABRIEL', 'DIEGO', 'ADRIAN', 'NATALIE',
  'OLIVIA', 'EMMA', 'NOAH', 'LIAM', 'ETHAN', 'MIA', 'CHLOE', 'GRACE', 'SAMUEL', 'BENJAMIN', 'RACHEL',
]
const streets = [
  'MAIN ST', 'BROADWAY', 'MISSION ST', 'CESAR CHAVEZ AVE', 'EL CAMINO REAL', 'OAK ST', 'PINE ST', 'FIRST ST',
  'SECOND ST', 'WILSHIRE BLVD', 'SUNSET BLVD', 'FIGUEROA ST', 'VAN NESS AVE', 'TELEGRAPH AVE', 'FOLSOM BLVD',
  'UNIVERSITY AVE', 'PALM AVE', 'OCEAN AVE', 'MAGNOLIA BLVD', 'SAN PABLO AVE', 'WASHINGTON BLVD', 'ALVARADO ST',
]
const cities: readonly (readonly [string, string, string])[] = [
  // [city, ZIP prefix, county code of the local agency ORI]
  ['LOS ANGELES', '900', '019'], ['SAN DIEGO', '921', '037'], ['SAN JOSE', '951', '043'], ['SAN FRANCISCO', '941', '038'],
  ['FRESNO', '937', '010'], ['SACRAMENTO', '958', '034'], ['LONG BEACH', '908', '019'], ['OAKLAND', '946', '001'],
  ['BAKERSFIELD', '933', '015'], ['ANAHEIM', '928', '030'], ['SANTA ANA', '927', '030'], ['RIVERSIDE', '925', '033'],
  ['STOCKTON', '952', '039'], ['CHULA VISTA', '919', '037'], ['GLENDALE', '912', '019'], ['SALINAS', '939', '027'],
]
const vehicleModels: readonly (readonly [string, string, string])[] = [
  // [make, model, world manufacturer identifier]
  ['TOYOTA', 'CAMRY', '4T1'], ['TOYOTA', 'COROLLA', '2T1'], ['HONDA', 'CIVIC', '2HG'], ['HONDA', 'ACCORD', '1HG'],
  ['FORD', 'F-150', '1FT'], ['CHEVROLET', 'SILVERADO', '1GC'], ['TESLA', 'MODEL 3', '5YJ'], ['NISSAN', 'ALTIMA', '1N4'],
  ['HYUNDAI', 'ELANTRA', 'KMH'], ['SUBARU', 'OUTBACK', '4S4'], ['BMW', '3 SERIES', 'WBA'], ['KIA', 'SORENTO', '5XY'],
]
const colors = ['WHITE', 'BLACK', 'SILVER', 'GRAY', 'BLUE', 'RED', 'GREEN', 'GOLD']
const eyeColors = ['BRN', 'BLU', 'GRN', 'HAZ', 'BLK']
const offenses: readonly (readonly [string, string])[] = [
  ['PC 459', 'BURGLARY'], ['PC 484(a)', 'PETTY THEFT'], ['PC 487(a)', 'GRAND THEFT'], ['PC 245(a)(1)', 'ASSAULT WITH A DEADLY WEAPON'],
  ['PC 273.5(a)', 'CORPORAL INJURY ON SPOUSE OR COHABITANT'], ['VC 23152(a)', 'DRIVING UNDER THE INFLUENCE'],
  ['HS 11350(a)', 'POSSESSION OF A CONTROLLED SUBSTANCE'], ['PC 211', 'ROBBERY'], ['PC 594(a)', 'VANDALISM'],
  ['VC 10851(a)', 'UNLAWFUL TAKING OF A VEHICLE'], ['PC 148(a)(1)', 'RESISTING AN OFFICER'], ['PC 422', 'CRIMINAL THREATS'],
]
const dispositions = ['CONVICTED', 'CONVICTED', 'DISMISSED', 'NOT PROSECUTED', 'ACQUITTED']
const vinAlphabet = 'ABCDEFGHJKLMNPRSTUVWXYZ0123456789'
const vinYearCodes = 'ABCDEFGHJKLMNPRSTVWXY123456789'
const plateLetters = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ'

export interface Address {
  readonly street: string
  readonly city: string
  readonly state: 'CA'
  readonly zip: string
}

export interface Person {
  readonly lastName: string
  readonly firstName: string
  readonly middleInitial: string
  readonly dateOfBirth: string
  readonly sex: 'F' | 'M' | 'X'
  readonly heightInches: number
  readonly eyeColor: string
  readonly address: Address
}

export interface DriverLicense {
  readonly licenseNumber: string
  readonly cardType: 'DL' | 'ID'
  readonly licenseClass: 'C' | 'A' | 'M1' | null
  readonly status: 'VALID' | 'EXPIRED' | 'SUSPENDED'
  readonly expires: string
  readonly person: Person
}

export interface VehicleRegistration {
  readonly plate: string
  readonly vin: string
  readonly year: number
  readonly make: string
  readonly model: string
  readonly color: string
  readonly status: 'CURRENT' | 'EXPIRED'
  readonly expires: string
  readonly registeredOwner: { readonly lastName: string; readonly firstName: string; readonly address: Address }
}

export interface RapSheet {
  readonly cii: string
  readonly person: Pick<Person, 'lastName' | 'firstName' | 'dateOfBirth' | 'sex'>
  readonly arrests: readonly {
    readonly date: string
    readonly arrestingAgency: string
    readonly charges: readonly { readonly code: string; readonly description: string; readonly disposition: string }[]
  }[]
}

export interface Population {
  readonly seed: number
  readonly size: number
  readonly licenses: readonly DriverLicense[]
  readonly vehicles: readonly VehicleRegistration[]
  readonly rapSheets: readonly RapSheet[]
  readonly byLicenseNumber: ReadonlyMap<string, DriverLicense>
  readonly licensesByNameAndBirth: ReadonlyMap<string, DriverLicense[]>
  readonly byPlate: ReadonlyMap<string, VehicleRegistration>
  readonly byVin: ReadonlyMap<string, VehicleRegistration>
  readonly rapSheetsByNameAndBirth: ReadonlyMap<string, RapSheet[]>
}

/** The key under which name + date of birth lookups are indexed (names compared in capitals). */
export function nameAndBirthKey(lastName: string, firstName: string, dateOfBirth: string): string {
  return `${lastName.toUpperCase()}|${firstName.toUpperCase()}|${dateOfBirth}`
}

/** mulberry32: small, fast and deterministic; not for secrets. */
function random(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

const pad = (value: number, width: number) => String(value).padStart(width, '0')
const isoDate = (epochDay: number) => new Date(epochDay * 86_400_000).toISOString().slice(0, 10)

/** Licence numbers: a letter and 7 digits; i*7919 mod 10^7 is a bijection, so numbers never repeat. */
function licenseNumber(index: number): string {
  return String.fromCharCode(65 + (index % 26)) + pad((index * 7919 + 1_234_567) % 10_000_000, 7)
}

/** California-style plates (digit, 3 letters, 3 digits), unique by the same bijection trick. */
function plate(index: number): string {
  let n = (index * 104_729 + 4_242_424) % (9 * 17_576 * 1000)
  const digits = n % 1000
  n = Math.floor(n / 1000)
  const letters = plateLetters[n % 26]! + plateLetters[Math.floor(n / 26) % 26]! + plateLetters[Math.floor(n / 676) % 26]!
  return `${1 + Math.floor(n / 17_576)}${letters}${pad(digits, 3)}`
}

/** A 17-character VIN whose last 7 characters encode the index, so VINs never repeat. */
function vin(index: number, wmi: string, year: number, next: () => number): string {
  let body = ''
  for (let i = 0; i < 5; i++) body += vinAlphabet[Math.floor(next() * vinAlphabet.length)]
  const plant = vinAlphabet[Math.floor(index / 1_000_000) % vinAlphabet.length]!
  return `${wmi}${body}${Math.floor(next() * 10)}${vinYearCodes[(year - 2001) % vinYearCodes.length]}${plant}${pad(index % 1_000_000, 6)}`
}

const pick = <T>(items: readonly T[], next: () => number): T => items[Math.floor(next() * items.length)]!

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key)
  if (list === undefined) map.set(key, [value])
  else list.push(value)
}

/** Generates `size` people with licences or ID cards, their vehicles, and rap sheets for about 1 in 8. */
export function generatePopulation(size: number, seed: number): Population {
  const next = random(seed)
  const licenses: DriverLicense[] = []
  const vehicles: VehicleRegistration[] = []
  const rapSheets: RapSheet[] = []
  const byLicenseNumber = new Map<string, DriverLicense>()
  const licensesByNameAndBirth = new Map<string, DriverLicense[]>()
  const byPlate = new Map<string, VehicleRegistration>()
  const byVin = new Map<string, VehicleRegistration>()
  const rapSheetsByNameAndBirth = new Map<string, RapSheet[]>()
  const today = Math.floor(Date.UTC(2026, 0, 1) / 86_400_000)

  for (let index = 0; index < size; index++) {
    const [city, zipPrefix, county] = pick(cities, next)
    const address: Address = {
      street: `${1 + Math.floor(next() * 19_999)} ${pick(streets, next)}`,
      city,
      state: 'CA',
      zip: zipPrefix + pad(Math.floor(next() * 100), 2),
    }
    const sexRoll = next()
    const person: Person = {
      lastName: pick(lastNames, next),
      firstName: pick(firstNames, next),
      middleInitial: plateLetters[Math.floor(next() * 26)]!,
      // Born between 1940 and 2007: everyone is old enough for a card.
      dateOfBirth: isoDate(Math.floor(-10_957 + next() * 24_837)),
      sex: sexRoll < 0.49 ? 'F' : sexRoll < 0.98 ? 'M' : 'X',
      heightInches: 58 + Math.floor(next() * 20),
      eyeColor: pick(eyeColors, next),
      address,
    }
    const cardType = next() < 0.88 ? 'DL' : 'ID'
    const statusRoll = next()
    const license: DriverLicense = {
      licenseNumber: licenseNumber(index),
      cardType,
      licenseClass: cardType === 'ID' ? null : next() < 0.95 ? 'C' : next() < 0.5 ? 'A' : 'M1',
      status: statusRoll < 0.9 ? 'VALID' : statusRoll < 0.96 ? 'EXPIRED' : 'SUSPENDED',
      expires: isoDate(today - 400 + Math.floor(next() * 2200)),
      person,
    }
    licenses.push(license)
    byLicenseNumber.set(license.licenseNumber, license)
    const key = nameAndBirthKey(person.lastName, person.firstName, person.dateOfBirth)
    push(licensesByNameAndBirth, key, license)

    const vehicleCount = next() < 0.6 ? (next() < 0.25 ? 2 : 1) : 0
    for (let v = 0; v < vehicleCount; v++) {
      const [make, model, wmi] = pick(vehicleModels, next)
      const year = 2001 + Math.floor(next() * 26)
      const vehicle: VehicleRegistration = {
        plate: plate(vehicles.length),
        vin: vin(vehicles.length, wmi, year, next),
        year,
        make,
        model,
        color: pick(colors, next),
        status: next() < 0.92 ? 'CURRENT' : 'EXPIRED',
        expires: isoDate(today - 200 + Math.floor(next() * 565)),
        registeredOwner: { lastName: person.lastName, firstName: person.firstName, address },
      }
      vehicles.push(vehicle)
      byPlate.set(vehicle.plate, vehicle)
      byVin.set(vehicle.vin, vehicle)
    }

    if (next() < 0.125) {
      const arrests = []
      const arrestCount = 1 + Math.floor(next() * 4)
      for (let a = 0; a < arrestCount; a++) {
        const chargeCount = 1 + Math.floor(next() * 2)
        const charges = []
        for (let c = 0; c < chargeCount; c++) {
          const [code, description] = pick(offenses, next)
          charges.push({ code, description, disposition: pick(dispositions, next) })
        }
        arrests.push({
          date: isoDate(today - Math.floor(next() * 9000)),
          arrestingAgency: `CA${county}${pad(Math.floor(next() * 100), 2)}00`,
          charges,
        })
      }
      arrests.sort((left, right) => left.date.localeCompare(right.date))
      const rapSheet: RapSheet = {
        cii: `A${pad((index * 7933 + 3_141_592) % 100_000_000, 8)}`,
        person: { lastName: person.lastName, firstName: person.firstName, dateOfBirth: person.dateOfBirth, sex: person.sex },
        arrests,
      }
      rapSheets.push(rapSheet)
      push(rapSheetsByNameAndBirth, key, rapSheet)
    }
  }
  return { seed, size, licenses, vehicles, rapSheets, byLicenseNumber, licensesByNameAndBirth, byPlate, byVin, rapSheetsByNameAndBirth }
}
