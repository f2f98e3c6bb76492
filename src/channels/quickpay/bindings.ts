import { createHmac } from 'node:crypto'
import type { Clock } from '../../domain/clock.js'
import { KassaError } from '../../domain/errors.js'
import { newId } from '../../domain/ids.js'
import { seal, unseal, type MasterKey } from '../../security/secrets.js'
import type { Store } from '../../store/store.js'
import { unavailableFor } from '../config.js'
import { channelConfig, type SavedMethodView } from '../directory.js'
import type { ProviderResult, QuickpayProvider } from '../provider.js'

export type BindingDeps = {
  readonly store: Store
  readonly clock: Clock
  readonly masterKey: MasterKey
  readonly provider: (channelId: string) => QuickpayProvider | undefined
}

function counterpartError(result: Exclude<ProviderResult<unknown>, { outcome: 'ok' }>, param: string): KassaError {
  if (result.outcome === 'unknown') return new KassaError('counterpart_unavailable')
  if (result.code.startsWith('sms_code')) return new KassaError('sms_code_invalid', { param: 'sms_code', message: result.message })
  return new KassaError('counterpart_declined', { param, message: `The bank refused: ${result.message}` })
}

async function quickpayProvider(deps: BindingDeps, channelId: string): Promise<QuickpayProvider> {
  const config = await channelConfig(deps.store, channelId)
  const provider = deps.provider(channelId)
  if (config.kind !== 'quickpay' || provider === undefined) throw new KassaError('parameter_invalid', { param: 'channel', message: `${channelId} is not a quick-pay channel.` })
  // New bindings only on a channel that takes payments: a binding is for paying.
  const unavailable = unavailableFor({ ...config, merchants: null, min_amount: null, max_amount: null }, { merchant_id: '', amount: 1n, currency: config.currencies[0] as never })
  if (unavailable !== undefined) throw new KassaError('channel_unavailable', { param: 'channel', message: unavailable.message })
  return provider
}

/** Step one of binding a bank account for quick pay: the bank sends an SMS code to the account's phone. */
export async function startBinding(
  deps: BindingDeps,
  input: { channel_id: string; account_no: string; holder_name: string; phone: string },
): Promise<{ binding_request_id: string; phone_masked: string }> {
  if (!/^[0-9]{12,19}$/.test(input.account_no)) throw new KassaError('parameter_invalid', { param: 'account_no', message: 'The account or card number is 12 to 19 digits.' })
  if (!/^1[0-9]{10}$/.test(input.phone)) throw new KassaError('parameter_invalid', { param: 'phone', message: 'The phone number is 11 digits.' })
  if (input.holder_name.trim() === '') throw new KassaError('parameter_invalid', { param: 'holder_name' })
  const provider = await quickpayProvider(deps, input.channel_id)
  const started = await provider.startBinding({ account_no: input.account_no, holder_name: input.holder_name.trim(), phone: input.phone })
  if (started.outcome !== 'ok') throw counterpartError(started, 'account_no')
  return { binding_request_id: started.binding_request_id, phone_masked: started.phone_masked }
}

/** Step two: the SMS code proves the phone; the bank's binding becomes the shopper's saved method. */
export async function confirmBinding(
  deps: BindingDeps,
  input: { shopper_id: string; channel_id: string; binding_request_id: string; sms_code: string },
): Promise<SavedMethodView> {
  if (!/^[0-9]{4,8}$/.test(input.sms_code)) throw new KassaError('parameter_invalid', { param: 'sms_code', message: 'The SMS code is 4 to 8 digits.' })
  const provider = await quickpayProvider(deps, input.channel_id)
  const confirmed = await provider.confirmBinding({ binding_request_id: input.binding_request_id, sms_code: input.sms_code })
  if (confirmed.outcome !== 'ok') throw counterpartError(confirmed, 'binding_request_id')
  const fingerprint = createHmac('sha256', deps.masterKey.key).update(`binding:${input.channel_id}:${confirmed.binding_id}`).digest('hex')
  const display = { bank: provider.display_name, account_no_masked: confirmed.account_no_masked, holder_name: confirmed.holder_name }
  return deps.store.writer.submit(async (tx) => {
    const nowMs = deps.clock.now()
    const [existing] = await tx.execute(
      tx.builder.selectFrom('saved_methods').selectAll().where('shopper_id', '=', input.shopper_id).where('token_fingerprint', '=', fingerprint),
    )
    const id = existing?.id ?? newId('saved_method', nowMs)
    if (existing === undefined) {
      await tx.execute(
        tx.builder.insertInto('saved_methods').values({
          id,
          shopper_id: input.shopper_id,
          channel_id: input.channel_id,
          kind: 'quickpay',
          token_sealed: seal(deps.masterKey, confirmed.binding_id),
          token_fingerprint: fingerprint,
          display: JSON.stringify(display),
          status: 'active',
          created_at: nowMs,
          updated_at: nowMs,
        }),
      )
    } else {
      await tx.execute(tx.builder.updateTable('saved_methods').set({ status: 'active', updated_at: nowMs }).where('id', '=', id))
    }
    return { id, object: 'saved_method', channel: input.channel_id, kind: 'quickpay', display, status: 'active', created_at: new Date(Number(existing?.created_at ?? nowMs)).toISOString() }
  })
}

/** The shopper removes a binding: unbound at the bank, then detached here (kept as a record). */
export async function unbind(deps: BindingDeps, shopperId: string, savedMethodId: string): Promise<void> {
  const row = await deps.store.db.selectFrom('saved_methods').selectAll().where('id', '=', savedMethodId).executeTakeFirst()
  if (row === undefined || row.shopper_id !== shopperId || row.status !== 'active') throw new KassaError('saved_method_missing', { param: 'saved_method' })
  const provider = deps.provider(row.channel_id)
  if (provider === undefined) throw new KassaError('channel_unavailable', { param: 'saved_method' })
  const unbound = await provider.unbind(unseal(deps.masterKey, row.token_sealed))
  if (unbound.outcome === 'unknown') throw new KassaError('counterpart_unavailable')
  // `binding_not_found`: already gone at the bank; detach here too.
  if (unbound.outcome === 'rejected' && unbound.code !== 'binding_not_found') throw counterpartError(unbound, 'saved_method')
  await deps.store.writer.submit(async (tx) => {
    await tx.execute(tx.builder.updateTable('saved_methods').set({ status: 'detached', updated_at: deps.clock.now() }).where('id', '=', row.id))
  })
}
