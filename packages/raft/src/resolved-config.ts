import type { RaftConfig } from './config.js';
import type { Storage } from './storage.js';
import type { Logger, NodeId, Rng } from './types.js';

/** `RaftConfig` with every default filled in and every value checked. */
export interface ResolvedConfig {
  readonly id: NodeId;
  readonly storage: Storage;
  readonly rng: Rng;
  readonly electionTick: number;
  readonly heartbeatTick: number;
  readonly preVote: boolean;
  readonly checkQuorum: boolean;
  readonly maxSizePerMsg: number;
  readonly maxInflightMsgs: number;
  readonly maxInflightBytes: number;
  readonly maxUncommittedBytes: number;
  readonly maxCommittedSizePerReady: number;
  readonly promotionLagMax: number;
  readonly applied: number;
  readonly logger: Logger;
}

/** The defaults documented on `RaftConfig`. */
export const CONFIG_DEFAULTS = {
  electionTick: 10,
  heartbeatTick: 1,
  preVote: true,
  checkQuorum: true,
  maxSizePerMsg: 1024 * 1024,
  maxInflightMsgs: 256,
  maxInflightBytes: 32 * 1024 * 1024,
  maxUncommittedBytes: 64 * 1024 * 1024,
  maxCommittedSizePerReady: 8 * 1024 * 1024,
  promotionLagMax: 1000,
  applied: 0,
} as const;

const SILENT: Logger = { log() {} };

function positiveInt(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 1) throw new TypeError(`RaftConfig.${name} must be a positive integer, got ${value}`);
  return value;
}

function nonNegativeInt(name: string, value: number): number {
  if (!Number.isInteger(value) || value < 0) throw new TypeError(`RaftConfig.${name} must be a non-negative integer, got ${value}`);
  return value;
}

/** Validate `config` once at the boundary (`TypeError` on nonsense) and fill in defaults. */
export function resolveConfig(config: RaftConfig): ResolvedConfig {
  if (config === null || typeof config !== 'object') throw new TypeError('RaftConfig must be an object');
  const d = CONFIG_DEFAULTS;
  const electionTick = positiveInt('electionTick', config.electionTick ?? d.electionTick);
  const heartbeatTick = positiveInt('heartbeatTick', config.heartbeatTick ?? d.heartbeatTick);
  if (electionTick <= heartbeatTick) {
    throw new TypeError(`RaftConfig.electionTick (${electionTick}) must exceed heartbeatTick (${heartbeatTick})`);
  }
  if (config.storage === null || typeof config.storage !== 'object') throw new TypeError('RaftConfig.storage is required');
  if (config.rng === null || typeof config.rng?.nextInt !== 'function') throw new TypeError('RaftConfig.rng is required');
  return {
    id: positiveInt('id', config.id),
    storage: config.storage,
    rng: config.rng,
    electionTick,
    heartbeatTick,
    preVote: config.preVote ?? d.preVote,
    checkQuorum: config.checkQuorum ?? d.checkQuorum,
    maxSizePerMsg: positiveInt('maxSizePerMsg', config.maxSizePerMsg ?? d.maxSizePerMsg),
    maxInflightMsgs: positiveInt('maxInflightMsgs', config.maxInflightMsgs ?? d.maxInflightMsgs),
    maxInflightBytes: nonNegativeInt('maxInflightBytes', config.maxInflightBytes ?? d.maxInflightBytes),
    maxUncommittedBytes: nonNegativeInt('maxUncommittedBytes', config.maxUncommittedBytes ?? d.maxUncommittedBytes),
    maxCommittedSizePerReady: positiveInt('maxCommittedSizePerReady', config.maxCommittedSizePerReady ?? d.maxCommittedSizePerReady),
    promotionLagMax: nonNegativeInt('promotionLagMax', config.promotionLagMax ?? d.promotionLagMax),
    applied: nonNegativeInt('applied', config.applied ?? d.applied),
    logger: config.logger ?? SILENT,
  };
}
