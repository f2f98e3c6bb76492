import { loadConfig } from './config.js'
import { serve } from './server.js'

// `npm start`
serve(loadConfig()).catch((error: unknown) => {
  process.stderr.write(`kassa: ${error instanceof Error ? error.message : String(error)}\n`)
  process.exit(1)
})
