import type { Kysely } from 'kysely'
import { recordAudit, type Actor } from '../audit/log.js'
import type { Clock } from '../domain/clock.js'
import { KassaError } from '../domain/errors.js'
import { newId } from '../domain/ids.js'
import { hashSecret, lastFour, newSecret } from '../security/secrets.js'
import type { Database, MerchantRow } from '../store/schema.js'
import type { Store } from '../store/store.js'

export type MerchantKind = 'self_operated' | 'third_party'
export type OperatorRole = 'admin' | 'finance' | 'support'

/** The default merchant discount: 0.60 %. */
export const defaultFeeBasisPoints = 60

export function merchantView(row: MerchantRow) {
  return {
    id: row.id,
    object: 'merchant' as const,
    name: row.name,
    kind: row.kind,
    status: row.status,
    fee_basis_points: Number(row.fee_basis_points),
    created_at: new Date(Number(row.created_at)).toISOString(),
  }
}

export type NewMerchant = { name: string; kind: MerchantKind; fee_basis_points?: number | undefined }

/** Creates a merchant and its first secret key; the key is in the answer and nowhere else. */
export async function createMerchant(store: Store, clock: Clock, actor: Actor, input: NewMerchant) {
  const nowMs = clock.now()
  const id = newId('merchant', nowMs)
  const secret = newSecret('sk')
  const keyId = newId('api_key', nowMs)
  const row: MerchantRow = {
    id,
    name: input.name,
    kind: input.kind,
    status: 'active',
    fee_basis_points: BigInt(input.fee_basis_points ?? defaultFeeBasisPoints),
    created_at: BigInt(nowMs),
  }
  await store.writer.submit(async (tx) => {
    await tx.execute(tx.builder.insertInto('merchants').values(row))
    await tx.execute(
      tx.builder.insertInto('api_keys').values({
        id: keyId,
        merchant_id: id,
        key_hash: hashSecret(secret),
        key_last4: lastFour(secret),
        created_at: nowMs,
        revoked_at: null,
      }),
    )
    await recordAudit(tx, actor, 'merchant.create', { id, merchant_id: id }, { name: input.name, kind: input.kind }, nowMs)
  })
  return { merchant: merchantView(row), api_key: { id: keyId, secret } }
}

export async function createApiKey(store: Store, clock: Clock, actor: Actor, merchantId: string) {
  const nowMs = clock.now()
  const secret = newSecret('sk')
  const keyId = newId('api_key', nowMs)
  await store.writer.submit(async (tx) => {
    const [merchant] = await tx.execute(tx.builder.selectFrom('merchants').select('id').where('id', '=', merchantId))
    if (merchant === undefined) throw new KassaError('resource_missing', { param: 'merchant', message: `No such merchant: ${merchantId}` })
    await tx.execute(
      tx.builder.insertInto('api_keys').values({
        id: keyId,
        merchant_id: merchantId,
        key_hash: hashSecret(secret),
        key_last4: lastFour(secret),
        created_at: nowMs,
        revoked_at: null,
      }),
    )
    await recordAudit(tx, actor, 'api_key.create', { id: keyId, merchant_id: merchantId }, {}, nowMs)
  })
  return { id: keyId, merchant: merchantId, secret }
}

export async function revokeApiKey(store: Store, clock: Clock, actor: Actor, keyId: string): Promise<void> {
  const nowMs = clock.now()
  await store.writer.submit(async (tx) => {
    const rows = await tx.execute(
      tx.builder.updateTable('api_keys').set({ revoked_at: nowMs }).where('id', '=', keyId).where('revoked_at', 'is', null).returning('merchant_id'),
    )
    const [row] = rows
    if (row === undefined) throw new KassaError('resource_missing', { param: 'key', message: `No such active key: ${keyId}` })
    await recordAudit(tx, actor, 'api_key.revoke', { id: keyId, merchant_id: row.merchant_id }, {}, nowMs)
  })
}

export async function createOperator(store: Store, clock: Clock, actor: Actor, input: { name: string; role: OperatorRole }) {
  const nowMs = clock.now()
  const id = newId('operator', nowMs)
  const secret = newSecret('ok')
  await store.writer.submit(async (tx) => {
    await tx.execute(
      tx.builder.insertInto('operators').values({
        id,
        name: input.name,
        role: input.role,
        key_hash: hashSecret(secret),
        key_last4: lastFour(secret),
        created_at: nowMs,
        revoked_at: null,
      }),
    )
    await recordAudit(tx, actor, 'operator.create', { id, merchant_id: null }, { name: input.name, role: input.role }, nowMs)
  })
  return { id, name: input.name, role: input.role, secret }
}

export type Principal =
  | { kind: 'merchant'; id: string; key_id: string; fee_basis_points: number; status: 'active' | 'suspended'; merchant_kind: MerchantKind }
  | { kind: 'operator'; id: string; role: OperatorRole }

const cacheTtlMs = 5_000
const cacheSizeMax = 10_000

/**
 * Finds who a secret key belongs to. Answers are cached for a few seconds so the payment path does
 * not pay a query per request; a revoked key stops working within that time on every node.
 */
export class Authenticator {
  private readonly cache = new Map<string, { principal: Principal | undefined; expires_at: number }>()

  constructor(
    private readonly db: Kysely<Database>,
    private readonly clock: Clock,
  ) {}

  async authenticate(secret: string): Promise<Principal | undefined> {
    const hash = hashSecret(secret)
    const nowMs = this.clock.now()
    const cached = this.cache.get(hash)
    if (cached !== undefined && cached.expires_at > nowMs) return cached.principal
    const principal = await this.lookup(secret, hash)
    if (this.cache.size >= cacheSizeMax) this.cache.clear()
    this.cache.set(hash, { principal, expires_at: nowMs + cacheTtlMs })
    return principal
  }

  forget(): void {
    this.cache.clear()
  }

  private async lookup(secret: string, hash: string): Promise<Principal | undefined> {
    if (secret.startsWith('sk_')) {
      const row = await this.db
        .selectFrom('api_keys')
        .innerJoin('merchants', 'merchants.id', 'api_keys.merchant_id')
        .select(['api_keys.id as key_id', 'merchants.id as merchant_id', 'merchants.fee_basis_points', 'merchants.status', 'merchants.kind', 'api_keys.revoked_at'])
        .where('api_keys.key_hash', '=', hash)
        .executeTakeFirst()
      if (row === undefined || row.revoked_at !== null) return undefined
      return { kind: 'merchant', id: row.merchant_id, key_id: row.key_id, fee_basis_points: Number(row.fee_basis_points), status: row.status, merchant_kind: row.kind }
    }
    if (secret.startsWith('ok_')) {
      const row = await this.db.selectFrom('operators').select(['id', 'role', 'revoked_at']).where('key_hash', '=', hash).executeTakeFirst()
      if (row === undefined || row.revoked_at !== null) return undefined
      return { kind: 'operator', id: row.id, role: row.role }
    }
    return undefined
  }
}
