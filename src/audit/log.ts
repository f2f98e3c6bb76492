import { newId } from '../domain/ids.js'
import { toJson } from '../domain/json.js'
import type { Tx } from '../store/writer.js'

export type Actor = { readonly type: 'operator' | 'merchant' | 'cli' | 'system'; readonly id: string }

/** Records who did what to which object, in the same transaction as the change itself. */
export async function recordAudit(
  tx: Tx,
  actor: Actor,
  action: string,
  target: { id: string | null; merchant_id: string | null },
  details: Record<string, unknown>,
  nowMs: number,
): Promise<void> {
  await tx.execute(
    tx.builder.insertInto('audit_log').values({
      id: newId('audit', nowMs),
      actor_type: actor.type,
      actor_id: actor.id,
      action,
      target_id: target.id,
      merchant_id: target.merchant_id,
      details: toJson(details),
      created_at: nowMs,
    }),
  )
}
