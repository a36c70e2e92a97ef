/**
 * The reference broker of the Concord wire protocol v1.
 * @packageDocumentation
 * @module broker
 */
export { Broker, type BrokerAddress, type BrokerStats, type ClientSnapshot } from './broker.js';
export { BrokerConfigError, resolveConfig, isLoopback, type BrokerOptions, type BrokerConfig } from './config.js';
export { ListenError } from './listen.js';
export { Logger, LOG_LEVELS, isLogLevel, type LogLevel, type LogSink, type LogFields } from './logger.js';
export type { ConnState } from './connection.js';
export type { PushName } from './push.js';
export { DEFAULT_CLUSTER_HEARTBEAT_MS, DEFAULT_CLUSTER_DEAD_AFTER_MS, type ClusterOptions, type ClusterBrokerStats } from './cluster/node.js';
