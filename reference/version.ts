/**
 * The one line `concord --version` and `conformance --version` print: the package's name and version
 * (package.json, the same file npm installs) and the protocol version of the generated catalog.
 */
import { readFileSync } from 'node:fs';
import { repoFile } from './paths.js';
import { PROTOCOL_VERSION } from '../spec/generated/catalog.js';

export function versionLine(): string {
  const pkg = JSON.parse(readFileSync(repoFile('package.json'), 'utf8')) as { name: string; version: string };
  return `${pkg.name} ${pkg.version} (protocol ${PROTOCOL_VERSION})`;
}
