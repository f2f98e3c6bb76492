import { createHmac } from 'node:crypto'
import { assert } from '../domain/assert.js'
import { newUnguessableId } from '../domain/ids.js'
import { seal, unseal, type MasterKey } from '../security/secrets.js'
import { param, params, prepare, preparedQueries } from '../store/prepared.js'
import type { Tx } from '../store/writer.js'
import { luhnValid, maskPan } from './iso8583/index.js'

export type CardData = { readonly pan: string; readonly expiry: string /* YYMM */ }

export type VaultedCard = { readonly id: string; readonly bin: string; readonly last4: string; readonly masked: string; readonly kind: 'pan' | 'token' }

/** Every card payment and POS sale vaults its card and reveals it for the scheme: prepared once. */
const queries = preparedQueries((db) => ({
  insertCard: prepare(db, (db) =>
    db.insertInto('vault_cards').values({ ...params('id', 'merchant_id', 'card_sealed', 'fingerprint', 'bin', 'last4', 'kind'), created_at: param('now') }),
  ),
  selectSealed: prepare(db, (db) => db.selectFrom('vault_cards').select('card_sealed').where('id', '=', param('id'))),
  selectByFingerprint: prepare(db, (db) =>
    db
      .selectFrom('vault_cards')
      .select(['id', 'card_sealed'])
      .where('merchant_id', '=', param('merchant_id'))
      .where('fingerprint', '=', param('fingerprint'))
      .where('kind', '=', param('kind'))
      // The newest copy only, one step down the index vault_cards_card: rows sealed before cards
      // were kept once may repeat a card many times.
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .limit(param('one')),
  ),
}))

/**
 * The card vault: a PAN is sealed (AES-256-GCM under the master key, its key id recorded) the
 * moment it arrives and is then known by its `card_…` id; only the message to the scheme ever
 * holds it in clear, in memory. The fingerprint (a keyed hash) finds the same card again, so a
 * merchant's returning card (a second sale at the till, the number typed again at checkout) keeps
 * its one sealed copy and its `card_…` id: fewer copies of a PAN to guard. A card reissued with a
 * new expiry date is sealed anew, since the scheme must get the date on the card.
 */
export async function vaultCard(tx: Tx, master: MasterKey, merchantId: string, card: CardData, kind: 'pan' | 'token', nowMs: number): Promise<VaultedCard> {
  assert(/^[0-9]{12,19}$/.test(card.pan) && luhnValid(card.pan), 'vaultCard takes a checked PAN')
  const fingerprint = createHmac('sha256', master.key).update(`card-fingerprint:${card.pan}`).digest('base64url')
  const described = { bin: card.pan.slice(0, 6), last4: card.pan.slice(-4), masked: maskPan(card.pan), kind }
  const [held] = await tx.run(queries(tx).selectByFingerprint, { merchant_id: merchantId, fingerprint, kind, one: 1 })
  if (held !== undefined) {
    const sealed = JSON.parse(unseal(master, held.card_sealed)) as CardData
    if (sealed.pan === card.pan && sealed.expiry === card.expiry) return { id: held.id, ...described }
  }
  // A card id lets a checkout of this merchant charge the card: it must not be guessable from another.
  const id = newUnguessableId('card', nowMs)
  const vaulted = { id, ...described }
  await tx.run(queries(tx).insertCard, {
    id,
    merchant_id: merchantId,
    card_sealed: seal(master, JSON.stringify(card)),
    fingerprint,
    bin: vaulted.bin,
    last4: vaulted.last4,
    kind,
    now: nowMs,
  })
  return vaulted
}

/** The card behind an id, for the one message that must carry it. */
export async function revealCard(tx: Tx, master: MasterKey, cardId: string): Promise<CardData> {
  const [row] = await tx.run(queries(tx).selectSealed, { id: cardId })
  assert(row !== undefined, `card ${cardId} is not in the vault`)
  return JSON.parse(unseal(master, row.card_sealed)) as CardData
}
