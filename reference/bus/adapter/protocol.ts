/**
 * The bus adapter protocol (section bus-adapter): one JSON object per line each way. The harness
 * describes handlers, subscribers and hooks as behaviours, since functions cannot cross a process
 * boundary, and reads what ran from the adapter's log. Any language implements it in a few hundred
 * lines (peers/python/concord_bus/adapter.py is one). The shapes are spec/bus/adapter.schema.json;
 * their types are generated from it.
 */
import type { Command } from '../../../spec/generated/bus-adapter.js';

export type { AfterBehaviour, BeforeBehaviour, Behaviour, Command, DescriptorIn, Hello, LogEntry, Reply, TargetIn, WireErr } from '../../../spec/generated/bus-adapter.js';

/** A command as it travels: with the `seq` its reply carries back (BUSA-1). */
export type Request = Command & { seq: number };
