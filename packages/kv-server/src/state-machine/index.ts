/**
 * The replicated state machine of a Keel node: commands and their encoding, the apply logic,
 * the exactly-once session table and membership with addresses. No I/O here: the store
 * (`../storage/`) reads and writes LevelDB around it.
 */
export { encodeCommand, decodeCommand, encodeMemberContext, decodeMemberContext, CLIENT_ID_BYTES_MAX, MEMBER_ADDRESS_CHARS_MAX } from './commands.js';
export type { AuthorizedAs, AuthorizedCommand, Command, MemberAddresses, SessionCommand } from './commands.js';
export { StateMachineError } from './errors.js';
export type { StateMachineErrorCode } from './errors.js';
export { StateMachine } from './state-machine.js';
export type { ApplyResult, ApplyWriter, PreparedApply } from './state-machine.js';
export { SessionTable, SessionTableBuilder, SESSION_LIMITS } from './sessions.js';
export type { SessionChange, SessionLimits, SessionLookup, WriteResult } from './sessions.js';
export { membersAfter, membersOf, bootstrapEntries } from './membership.js';
export { encodeStoredValue, decodeStoredValue } from './stored-value.js';
export { WriteSet } from './write-set.js';
export type { RecordChange } from './write-set.js';
export type { StoredValue } from './stored-value.js';
