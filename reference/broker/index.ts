/**
 * The reference broker of the Concord wire protocol v1.
 * @packageDocumentation
 */
export { Broker, type BrokerAddress, type BrokerStats, type ClientSnapshot } from './broker.js';
export { BrokerConfigError, resolveConfig, isLoopback, type BrokerOptions, type BrokerConfig } from './config.js';
export { ListenError } from './listen.js';
export { Logger, LOG_LEVELS, isLogLevel, type LogLevel, type LogSink } from './logger.js';
