import type { ColumnType, Insertable, Selectable } from 'kysely'

/**
 * The database as Kysely sees it. Columns are snake_case so rows cross HTTP and SQL unmapped.
 * Integers are int8 on both engines and arrive as bigint (better-sqlite3 safe integers, pg's int8
 * parser). Times are epoch milliseconds. Journal columns are insert-only: `never` on update.
 */
type Int = ColumnType<bigint, bigint | number, bigint | number>
type IntOnce = ColumnType<bigint, bigint | number, never>
type TextOnce = ColumnType<string, string, never>
type NullableTextOnce = ColumnType<string | null, string | null | undefined, never>

export interface MerchantsTable {
  id: string
  name: string
  kind: 'self_operated' | 'third_party'
  status: 'active' | 'suspended'
  fee_basis_points: Int
  created_at: Int
}

export interface ApiKeysTable {
  id: string
  merchant_id: string
  key_hash: string
  key_last4: string
  created_at: Int
  revoked_at: Int | null
}

export interface OperatorsTable {
  id: string
  name: string
  role: 'admin' | 'finance' | 'support'
  key_hash: string
  key_last4: string
  created_at: Int
  revoked_at: Int | null
}

export interface ShoppersTable {
  id: string
  external_reference: string | null
  name: string | null
  email: string | null
  phone: string | null
  created_at: Int
}

export interface LedgerAccountsTable {
  id: string
  code: string
  type: 'asset' | 'liability' | 'equity' | 'revenue' | 'expense'
  currency: string
  owner_id: string | null
  merchant_id: string | null
  limit_rule: 'none' | 'debits_must_not_exceed_credits' | 'credits_must_not_exceed_debits'
  debits_pending: Int
  debits_posted: Int
  credits_pending: Int
  credits_posted: Int
  created_at: Int
}

export interface LedgerTransfersTable {
  id: TextOnce
  kind: ColumnType<'single_phase' | 'pending' | 'post_pending' | 'void_pending', string, never>
  pending_id: NullableTextOnce
  code: TextOnce
  amount: IntOnce
  currency: TextOnce
  reference_id: NullableTextOnce
  merchant_id: NullableTextOnce
  created_at: IntOnce
}

export interface LedgerPostingsTable {
  transfer_id: TextOnce
  leg: IntOnce
  account_id: TextOnce
  side: ColumnType<'debit' | 'credit', string, never>
  phase: ColumnType<'pending' | 'posted', string, never>
  amount: IntOnce
  currency: TextOnce
  merchant_id: NullableTextOnce
  created_at: IntOnce
}

export interface PaymentsTable {
  id: string
  merchant_id: string
  status: 'requires_payment_method' | 'processing' | 'requires_capture' | 'succeeded' | 'failed' | 'canceled'
  amount: Int
  currency: string
  capture_method: 'automatic' | 'manual'
  order_reference: string
  description: string | null
  metadata: string
  shopper_id: string | null
  payment_method_type: string | null
  channel: string | null
  amount_capturable: Int
  amount_received: Int
  amount_refunded: Int
  fee_amount: Int
  hold_transfer_id: string | null
  last_error_code: string | null
  last_error_message: string | null
  cancellation_reason: string | null
  version: Int
  created_at: Int
  updated_at: Int
}

export interface RefundsTable {
  id: string
  merchant_id: string
  payment_id: string
  amount: Int
  currency: string
  status: 'succeeded' | 'pending' | 'failed'
  reason: string | null
  transfer_id: string | null
  metadata: string
  created_at: Int
  /** Refunds through a counterpart: the attempt that took the money, and the counterpart's answer. */
  attempt_id: string | null
  provider_refund_id: string | null
  failure_code: string | null
  /** When to ask the counterpart again about a refund it has not confirmed; null when settled. */
  next_check_at: Int | null
  updated_at: Int | null
}

export interface TopUpsTable {
  id: string
  shopper_id: string
  amount: Int
  currency: string
  reference: string | null
  transfer_id: string
  created_by: string
  created_at: Int
}

export interface IdempotencyKeysTable {
  principal_id: string
  key: string
  request_hash: string
  status: 'in_progress' | 'completed'
  response_status: Int | null
  response_body: string | null
  created_at: Int
}

export interface EventsTable {
  id: TextOnce
  merchant_id: TextOnce
  type: TextOnce
  object_id: TextOnce
  data: TextOnce
  created_at: IntOnce
}

export interface WebhookEndpointsTable {
  id: string
  merchant_id: string
  url: string
  description: string | null
  secret_sealed: string
  enabled_events: string
  status: 'enabled' | 'disabled'
  created_at: Int
}

export interface WebhookDeliveriesTable {
  id: string
  merchant_id: string
  endpoint_id: string
  event_id: string
  status: 'pending' | 'succeeded' | 'failed'
  attempt_count: Int
  next_attempt_at: Int
  locked_until: Int | null
  last_attempt_at: Int | null
  created_at: Int
}

export interface WebhookAttemptsTable {
  id: string
  merchant_id: string
  delivery_id: string
  attempted_at: Int
  duration_ms: Int
  response_status: Int | null
  error: string | null
}

export interface AuditLogTable {
  id: TextOnce
  actor_type: ColumnType<'operator' | 'merchant' | 'cli' | 'system', string, never>
  actor_id: TextOnce
  action: TextOnce
  target_id: NullableTextOnce
  merchant_id: NullableTextOnce
  details: TextOnce
  created_at: IntOnce
}

export interface StationsTable {
  id: string
  name: string
  city: string
  created_at: Int
}

export interface CouriersTable {
  id: string
  station_id: string
  name: string
  username: string
  password_hash: string
  status: 'active' | 'suspended'
  created_at: Int
}

export interface SessionsTable {
  token_hash: string
  subject_id: string
  kind: 'courier' | 'shopper' | 'cpm'
  expires_at: Int
  created_at: Int
}

export interface DeliveriesTable {
  id: string
  merchant_id: string
  payment_id: string
  parcel_number: string
  courier_id: string
  station_id: string
  amount: Int
  amount_original: Int
  currency: string
  status: 'out_for_delivery' | 'paid' | 'refused'
  paid_by: 'qr' | 'cash' | 'cpm' | null
  /** What paid it: `wallet_balance`, `cash`, or the channel of the shopper's saved method (`quickpay.icbc-sim`). */
  paid_with: string | null
  shopper_id: string | null
  shopper_phone: string | null
  transfer_id: string | null
  delivery_date: string
  version: Int
  paid_at: Int | null
  created_at: Int
}

export interface DeliveryCodesTable {
  reference: string
  delivery_id: string
  merchant_id: string
  courier_id: string
  amount: Int
  currency: string
  payload: string
  /** `held`: a shopper is paying it through a counterpart; nobody else can pay it until that ends. */
  status: 'active' | 'held' | 'used' | 'expired' | 'replaced'
  expires_at: Int
  created_at: Int
}

export interface CashRemittancesTable {
  id: string
  courier_id: string
  station_id: string
  currency: string
  amount_expected: Int
  amount_counted: Int
  remittance_date: string
  transfer_id: string
  created_by: string
  created_at: Int
}

export interface VaultCardsTable {
  id: string
  merchant_id: string
  card_sealed: string
  fingerprint: string
  bin: string
  last4: string
  kind: 'pan' | 'token'
  created_at: Int
}

/** A card typed on a payment's checkout page: that checkout may charge it, and no other. */
export interface CheckoutCardsTable {
  payment_id: string
  card_id: string
  merchant_id: string
  created_at: Int
}

export type CardTransactionKind = 'authorization' | 'sale' | 'capture' | 'refund'
export type CardTransactionStatus = 'pending' | 'approved' | 'declined' | 'reversed' | 'reversal_pending' | 'not_sent'

export interface CardTransactionsTable {
  id: string
  merchant_id: string
  original_id: string | null
  kind: CardTransactionKind
  status: CardTransactionStatus
  card_id: string
  masked_pan: string
  amount: Int
  amount_captured: Int
  amount_refunded: Int
  currency: string
  terminal_id: string
  entry_mode: string
  stan: string | null
  rrn: string | null
  transmitted_at: string | null
  auth_code: string | null
  response_code: string | null
  transfer_id: string | null
  reference_id: string | null
  version: Int
  created_at: Int
  updated_at: Int
}

export interface Database {
  merchants: MerchantsTable
  api_keys: ApiKeysTable
  operators: OperatorsTable
  shoppers: ShoppersTable
  ledger_accounts: LedgerAccountsTable
  ledger_transfers: LedgerTransfersTable
  ledger_postings: LedgerPostingsTable
  payments: PaymentsTable
  refunds: RefundsTable
  top_ups: TopUpsTable
  idempotency_keys: IdempotencyKeysTable
  events: EventsTable
  webhook_endpoints: WebhookEndpointsTable
  webhook_deliveries: WebhookDeliveriesTable
  webhook_attempts: WebhookAttemptsTable
  audit_log: AuditLogTable
  stations: StationsTable
  couriers: CouriersTable
  sessions: SessionsTable
  deliveries: DeliveriesTable
  delivery_codes: DeliveryCodesTable
  cash_remittances: CashRemittancesTable
  vault_cards: VaultCardsTable
  checkout_cards: CheckoutCardsTable
  card_transactions: CardTransactionsTable
  terminals: TerminalsTable
  pos_requests: PosRequestsTable
  channel_configs: ChannelConfigsTable
  channel_attempts: ChannelAttemptsTable
  saved_methods: SavedMethodsTable
  channel_notifications: ChannelNotificationsTable
}

export type PaymentRow = Selectable<PaymentsTable>
export type RefundRow = Selectable<RefundsTable>
export type MerchantRow = Selectable<MerchantsTable>
export type ShopperRow = Selectable<ShoppersTable>
export type AccountRow = Selectable<LedgerAccountsTable>
export type TransferRow = Selectable<LedgerTransfersTable>
export type PostingRow = Selectable<LedgerPostingsTable>
export type EventRow = Selectable<EventsTable>
export type WebhookEndpointRow = Selectable<WebhookEndpointsTable>
export type WebhookDeliveryRow = Selectable<WebhookDeliveriesTable>
export type WebhookAttemptRow = Selectable<WebhookAttemptsTable>
export type NewPayment = Insertable<PaymentsTable>
export type DeliveryRow = Selectable<DeliveriesTable>
export type DeliveryCodeRow = Selectable<DeliveryCodesTable>
export type CourierRow = Selectable<CouriersTable>
export type CardTransactionRow = Selectable<CardTransactionsTable>

/** A POS terminal registered to a merchant: field 41 is `id`, field 42 `card_acceptor_id`. */
export interface TerminalsTable {
  id: string
  merchant_id: string
  card_acceptor_id: string
  /** The terminal's MAC key (hex), sealed with the master key. */
  mac_key_sealed: string
  status: 'active' | 'disabled'
  created_at: Int
}

/** A request a terminal sent, by its STAN: replayed on a repeat, named by reversals and refunds. */
export interface PosRequestsTable {
  terminal_id: string
  /** The request MTI without the repeat digit (0201 is kept as 0200). */
  mti: string
  stan: string
  merchant_id: string
  /** Keyed hash of the request (MAC left out), to tell a repeat from another message reusing the STAN. */
  digest: string
  state: 'processing' | 'answered'
  /** The answer as JSON `{ mti, fields }`, without MAC; never holds card data. */
  response: string | null
  card_transaction_id: string | null
  created_at: Int
  updated_at: Int
}

export type ChannelState = 'enabled' | 'draining' | 'disabled'

/** A checkout channel's live configuration: data, changed by operators and audited. */
export interface ChannelConfigsTable {
  /** `wallet_balance`, `card`, `cod`, or `<kind>.<provider>` such as `netbank.icbc-sim`. */
  id: string
  kind: string
  provider: string | null
  display_name: string
  state: ChannelState
  /** JSON array of merchant ids allowed; null: every merchant. */
  merchants: string | null
  /** JSON array of ISO 4217 codes. */
  currencies: string
  min_amount: Int | null
  max_amount: Int | null
  display_order: number
  /** The MDR on this channel, in basis points; null: the merchant's own. */
  fee_basis_points: number | null
  version: Int
  updated_at: Int
}

export type AttemptStatus = 'creating' | 'pending' | 'paid' | 'failed' | 'closed'

/** One try at a counterpart to collect a payment; its id is the counterpart's order number. */
export interface ChannelAttemptsTable {
  id: string
  merchant_id: string
  payment_id: string
  channel_id: string
  amount: Int
  currency: string
  status: AttemptStatus
  provider_order_id: string | null
  /** JSON of the NextAction the shopper must take. */
  next_action: string | null
  saved_method_id: string | null
  /** The parcel code this attempt pays at the door; null for a checkout attempt. */
  delivery_code: string | null
  failure_code: string | null
  failure_message: string | null
  /** 1 when the money arrived after the payment had ended otherwise (canceled, paid another way). */
  late: number
  /** The ledger transfer that booked the money received, once paid. */
  transfer_id: string | null
  queries: number
  /** When the counterpart is next asked (query, retried creation, close); null when settled. */
  next_check_at: Int | null
  version: Int
  created_at: Int
  updated_at: Int
}

/** A shopper's saved method on a channel (a quick-pay binding): kept when the channel goes away. */
export interface SavedMethodsTable {
  id: string
  shopper_id: string
  channel_id: string
  kind: string
  /** The counterpart's token (binding id), sealed with the master key. */
  token_sealed: string
  /** Keyed hash of the token, to find a binding again without unsealing every row. */
  token_fingerprint: string
  /** JSON: what the shopper sees (bank, masked account, holder). */
  display: string
  status: 'active' | 'detached'
  created_at: Int
  updated_at: Int
}

/** Every notification a counterpart sent, applied or not: refused ones are evidence. */
export interface ChannelNotificationsTable {
  id: string
  channel_id: string
  notification_id: string | null
  order_no: string | null
  merchant_id: string | null
  outcome: 'applied' | 'duplicate' | 'rejected'
  reason: string | null
  created_at: Int
}

export type ChannelConfigRow = Selectable<ChannelConfigsTable>
export type ChannelAttemptRow = Selectable<ChannelAttemptsTable>
export type SavedMethodRow = Selectable<SavedMethodsTable>
