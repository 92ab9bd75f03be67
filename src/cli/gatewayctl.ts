// gatewayctl: the operators' and auditors' command line. `gatewayctl --help` lists the commands and
// the exit codes; every command and subcommand takes --help. Each group lives in its own file; adding
// one is a line here (see command.ts).
import { agenciesCommands } from './agencies.js'
import { auditCommands } from './audit.js'
import { changesCommands } from './changes.js'
import { reviewsCommands } from './reviews.js'
import { createProgram, run } from './command.js'
import { filingsCommands } from './filings.js'
import { officersCommands } from './officers.js'
import { policyCommands } from './policy.js'
import { reportCommands } from './reports.js'
import { requestsCommands } from './requests.js'
import { signalsCommands } from './signals.js'
import { stateCommands } from './state.js'
import { tokenCommand } from './token.js'

const program = createProgram()
for (const register of [tokenCommand, policyCommands, auditCommands, reportCommands, signalsCommands, agenciesCommands, officersCommands, changesCommands, reviewsCommands, stateCommands, requestsCommands, filingsCommands]) register(program)
await run(program, process.argv.slice(2))
