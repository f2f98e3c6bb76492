// Rewrites docs/errors.md from the error catalogue (src/domain/errors.ts, built into dist/).
// test/tidy.test.ts fails when the two disagree; run `npm run build && node scripts/errors-doc.mjs`.
import { writeFileSync } from 'node:fs'
import { errorCatalogue } from '../dist/src/domain/errors.js'

const lines = [
  '# Errors',
  '',
  'Every error answers with the same shape and a code from this table:',
  '',
  '```json',
  '{"error":{"type":"invalid_request_error","code":"amount_invalid","message":"amount must be a positive integer count of minor units…","param":"amount"}}',
  '```',
  '',
  '- `type` groups codes: retry logic can switch on it (`api_error` and `rate_limit_error` are worth retrying with the same `Idempotency-Key`; the others are not).',
  '- `param` names the field at fault (`payment_method.shopper`, `amount`, `Idempotency-Key`, `limit` in the query string) whenever one is.',
  '- A declined payment (`insufficient_funds`, 402) also carries the payment as `error.payment`: it stays open for another payment method.',
  '- The catalogue lives in `src/domain/errors.ts`; `test/tidy.test.ts` fails when this page and the code disagree (`node scripts/errors-doc.mjs` rewrites it).',
  '',
  '| code | status | type | meaning |',
  '|---|---|---|---|',
  ...Object.entries(errorCatalogue).map(([code, entry]) => `| \`${code}\` | ${entry.status} | ${entry.type} | ${entry.message} |`),
]
writeFileSync('docs/errors.md', `${lines.join('\n')}\n`)
console.log(`docs/errors.md: ${Object.keys(errorCatalogue).length} codes`)
