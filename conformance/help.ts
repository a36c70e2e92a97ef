/**
 * `conformance help COMMAND`: the part of the full help that concerns one command, cut from the help
 * text itself so that the two never disagree. The usage block's entries start with `conformance WORD`
 * (WORD an option or `[`: the run forms); indented lines continue the entry above them.
 */

/** The commands a usage line can name, `run` standing for the forms without a command word. */
export function helpCommands(help: string): string[] {
  return [...new Set(usageEntries(help).map((e) => e.command))];
}

/** The help of one command, or undefined when the help names no such command. */
export function helpTopic(help: string, command: string): string | undefined {
  const entries = usageEntries(help).filter((e) => e.command === command);
  if (entries.length === 0) return undefined;
  const usage = entries.flatMap((e) => e.lines).map((l, i) => (i === 0 ? `usage: ${l.slice(7)}` : `       ${l.slice(7)}`));
  // The run forms take the run options, and only a run has exit codes other than 0 and 64.
  const blocks = command === 'run' ? help.split('\n\n').slice(1).filter((b) => /^(run options|exit codes):/.test(b)) : [];
  return `${[usage.join('\n'), ...blocks].join('\n\n').trimEnd()}\n`;
}

interface UsageEntry {
  command: string;
  lines: string[];
}

function usageEntries(help: string): UsageEntry[] {
  const entries: UsageEntry[] = [];
  for (const line of help.split('\n\n')[0]!.split('\n')) {
    const start = /^(?:usage: | {7})conformance (\S+)/.exec(line);
    if (start) entries.push({ command: start[1] === '--version' ? 'version' : /^[[-]/.test(start[1]!) ? 'run' : start[1]!, lines: [line] });
    else entries.at(-1)?.lines.push(line);
  }
  return entries;
}
