/**
 * `kassa channel …`: the checkout channels' live configuration, as operators change it.
 *
 *   kassa channel list
 *   kassa channel set <id> [--state enabled|draining|disabled] [--merchants all|mch_…,mch_…]
 *                          [--currencies CNY,USD] [--min <minor>|none] [--max <minor>|none]
 *                          [--order <n>] [--fee <basis points>|merchant]
 *   kassa channel affected <id>      shoppers with saved methods on it
 *   kassa late-funds [list]          late money a counterpart refused to return
 *   kassa late-funds retry <rfd_…>   returns it again
 *
 * Every change is audited (actor `cli`) and holds at once on every node.
 */
import { InvalidArgumentError, type Command } from 'commander'
import { channelStates } from '../channels/config.js'
import { affectedShoppers, channelConfigView, listChannelConfigs, updateChannelConfig, type ChannelChanges } from '../channels/directory.js'
import { isCurrencyCode } from '../domain/currency.js'
import { isId } from '../domain/ids.js'
import type { Kassa, KassaOptions } from '../kassa.js'
import { loadConfig } from '../config.js'
import { loadProvidersFile } from '../channels/providers-file.js'
import type { ChannelState } from '../store/schema.js'

type WithKassa = <T>(work: (kassa: Kassa) => Promise<T>, options?: Pick<KassaOptions, 'providers'>) => Promise<T>

// A parser that answers null makes commander store '' instead: "none", "all" and "merchant" stay words until the action.
function limit(text: string): bigint | 'none' {
  if (text === 'none') return 'none'
  if (!/^[0-9]{1,12}$/.test(text)) throw new InvalidArgumentError('amounts are integers of minor units (at most 12 digits), or none')
  return BigInt(text)
}

function state(text: string): ChannelState {
  if (!(channelStates as readonly string[]).includes(text)) throw new InvalidArgumentError(`the state is one of ${channelStates.join(', ')}`)
  return text as ChannelState
}

function merchants(text: string): string[] | 'all' {
  if (text === 'all') return 'all'
  const ids = text.split(',').map((part) => part.trim())
  const bad = ids.find((id) => !isId('merchant', id))
  if (bad !== undefined) throw new InvalidArgumentError(`"${bad}" is not a merchant id (mch_…); or use all`)
  return ids
}

function currencies(text: string): string[] {
  const codes = text.split(',').map((part) => part.trim().toUpperCase())
  const bad = codes.find((code) => !isCurrencyCode(code))
  if (bad !== undefined) throw new InvalidArgumentError(`"${bad}" is not an ISO 4217 currency code`)
  return codes
}

function fee(text: string): number | 'merchant' {
  if (text === 'merchant') return 'merchant'
  const value = Number(text)
  if (!Number.isInteger(value) || value < 0 || value > 10_000) throw new InvalidArgumentError('the fee is basis points from 0 to 10000, or merchant')
  return value
}

function order(text: string): number {
  const value = Number(text)
  if (!Number.isInteger(value) || value < 0 || value > 100_000) throw new InvalidArgumentError('the display order is an integer from 0 to 100000')
  return value
}

export function registerChannelCommands(program: Command, withKassa: WithKassa, print: (value: unknown) => void): void {
  const channel = program.command('channel').description('checkout channels: switch on and off, limit, list whom a switch-off touches')
  channel
    .command('list')
    .description('every channel with its state and limits')
    .action(async () => {
      const configs = await withKassa((kassa) => listChannelConfigs(kassa.store))
      print(['id', 'state', 'merchants', 'currencies', 'min', 'max', 'order', 'fee_bp'].join('\t'))
      for (const c of configs) {
        print([c.id, c.state, c.merchants === null ? 'all' : c.merchants.join(','), c.currencies.length > 8 ? `${c.currencies.length} currencies` : c.currencies.join(','), c.min_amount ?? '-', c.max_amount ?? '-', c.display_order, c.fee_basis_points ?? 'merchant'].join('\t'))
      }
    })
  channel
    .command('set <id>')
    .description('change a channel; audited, effective at once on every node')
    .option('--state <state>', 'enabled | draining (no new payments; in-flight ones complete) | disabled (also hidden)', state)
    .option('--merchants <ids>', 'all, or a comma-separated list of merchant ids', merchants)
    .option('--currencies <codes>', 'comma-separated ISO 4217 codes', currencies)
    .option('--min <minor>', 'lowest amount in minor units, or none', limit)
    .option('--max <minor>', 'highest amount in minor units, or none', limit)
    .option('--order <n>', 'display order on the checkout page', order)
    .option('--fee <basis points>', "MDR on this channel, or merchant (the merchant's own)", fee)
    .action(async (id: string, options: { state?: ChannelState; merchants?: string[] | 'all'; currencies?: string[]; min?: bigint | 'none'; max?: bigint | 'none'; order?: number; fee?: number | 'merchant' }) => {
      const changes: ChannelChanges = {
        ...(options.state === undefined ? {} : { state: options.state }),
        ...(options.merchants === undefined ? {} : { merchants: options.merchants === 'all' ? null : options.merchants }),
        ...(options.currencies === undefined ? {} : { currencies: options.currencies }),
        ...(options.min === undefined ? {} : { min_amount: options.min === 'none' ? null : options.min }),
        ...(options.max === undefined ? {} : { max_amount: options.max === 'none' ? null : options.max }),
        ...(options.order === undefined ? {} : { display_order: options.order }),
        ...(options.fee === undefined ? {} : { fee_basis_points: options.fee === 'merchant' ? null : options.fee }),
      }
      if (Object.keys(changes).length === 0) throw new Error('nothing to change: give at least one of --state, --merchants, --currencies, --min, --max, --order, --fee')
      const updated = await withKassa((kassa) => updateChannelConfig(kassa.store, kassa.clock, { type: 'cli', id: 'kassa-cli' }, id, changes))
      print(channelConfigView(updated))
    })
  const lateFunds = program
    .command('late-funds')
    .description('money that arrived after its payment ended and could not be returned (owed to the payer): list, retry')
  lateFunds
    .command('list', { isDefault: true })
    .description('the late-funds refunds their counterpart refused, still owed')
    .action(async () => {
      const rows = await withKassa((kassa) => kassa.counterparts.unreturnedLateFunds())
      print(`${rows.length} late payment(s) not returned`)
      for (const row of rows) print([row.refund, row.payment, row.channel ?? '-', `${row.amount} ${row.currency}`, row.failure_code ?? '-', row.failed_at].join('\t'))
    })
  lateFunds
    .command('retry <refund>')
    .description(
      "returns the money again, as POST /console/v1/refunds/{id}/retry does (audited, actor cli): sent from here with KASSA_PROVIDERS_FILE, else by a running Kassa's counterpart worker",
    )
    .action(async (refundId: string) => {
      if (!isId('refund', refundId)) throw new InvalidArgumentError(`"${refundId}" is not a refund id (rfd_…)`)
      const providersFile = loadConfig().providersFile
      const providers = providersFile === undefined ? undefined : loadProvidersFile(providersFile)
      const outcome = await withKassa(
        async (kassa) => {
          const retry = await kassa.counterparts.recordLateFundsRetry({ type: 'cli', id: 'kassa-cli' }, refundId)
          const sent = kassa.counterparts.reaches(retry.channelId)
          if (sent) await kassa.counterparts.sendRefund(retry.refundId)
          return { refund: await kassa.counterparts.refundViewOf(retry.refundId), sent }
        },
        providers === undefined ? {} : { providers },
      )
      print(outcome.refund)
      if (!outcome.sent) print(`${outcome.refund.id} is pending: a running Kassa's counterpart worker sends it within a minute (this command reaches no counterpart without KASSA_PROVIDERS_FILE)`)
    })
  channel
    .command('affected <id>')
    .description('shoppers with saved methods on a channel (kept when it is switched off)')
    .action(async (id: string) => {
      const rows = await withKassa((kassa) => affectedShoppers(kassa.store, id))
      print(`${rows.length} saved method(s) on ${id}`)
      for (const row of rows) print(`${row.shopper_id}\t${row.saved_method_id}`)
    })
}
