/** The `npm run gen` stage that writes fixtures/engine/engine.json (checked by gen:check). */
import { buildEngineFixtures } from './fixtures.js';

/** One line per step keeps the file small and its diffs readable. */
export function engineFixturesText(): string {
  const f = buildEngineFixtures();
  const { scenarios, ...head } = f;
  const top = JSON.stringify(head, null, 1).replace(/\n}$/, '');
  const body = scenarios.map((s) => {
    const { steps, ...meta } = s;
    return `  {${JSON.stringify(meta).slice(1, -1)}, "steps": [\n${steps.map((st) => `   ${JSON.stringify(st)}`).join(',\n')}\n  ]}`;
  });
  return `${top},\n "scenarios": [\n${body.join(',\n')}\n ]\n}\n`;
}

export function generate(): Map<string, string> {
  return new Map([['fixtures/engine/engine.json', engineFixturesText()]]);
}
