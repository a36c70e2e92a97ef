/** Files of the repository, found the same way from the TypeScript sources and from dist/. */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

export function repoFile(relative: string): string {
  for (const up of ['../', '../../']) {
    const path = fileURLToPath(new URL(`${up}${relative}`, import.meta.url));
    if (existsSync(path)) return path;
  }
  throw new Error(`repoFile: ${relative} is not in the repository next to the harness`);
}
