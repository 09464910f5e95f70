/**
 * Shell completion for kvctl, generated from the command tree itself (commands, aliases, options,
 * choices), so it never falls behind the command line. bash gets a completion function; zsh gets
 * the same function through zsh's bash-completion emulation (`bashcompinit`).
 *
 *   source <(kvctl completion bash)      # in ~/.bashrc
 *   source <(kvctl completion zsh)       # in ~/.zshrc
 */
import type { Command, Option } from 'commander';

export const COMPLETION_SHELLS = ['bash', 'zsh'] as const;
export type CompletionShell = (typeof COMPLETION_SHELLS)[number];

/** Options that name a file, completed with file names. */
const FILE_OPTIONS = new Set(['--file', '--cacert', '--cert', '--key']);

/** The completion script for `shell`. */
export function completionScript(program: Command, shell: CompletionShell): string {
  const bash = bashScript(program);
  if (shell === 'bash') return bash;
  return `#compdef ${program.name()}\n# zsh completion for ${program.name()}: source <(${program.name()} completion zsh)\nautoload -U +X bashcompinit && bashcompinit\n${bash}`;
}

interface Node {
  readonly path: string;
  readonly command: Command;
}

function bashScript(program: Command): string {
  const name = program.name();
  const fn = `_${name.replace(/[^A-Za-z0-9_]/g, '_')}`;
  const nodes: Node[] = [];
  const walk = (command: Command, path: string): void => {
    nodes.push({ path, command });
    for (const sub of command.commands) walk(sub, `${path}/${sub.name()}`);
  };
  walk(program, '');

  const flags = (o: Option): string[] => [o.short, o.long].filter((f): f is string => f !== undefined);
  // One entry per flag (commands share some, like --file).
  const takesValue = [
    ...new Map(
      nodes
        .flatMap((n) => n.command.options as Option[])
        .filter((o) => o.required || o.optional)
        .map((o) => [flags(o).join('|'), o] as const),
    ).values(),
  ];
  // Global options work after a command too; the version only before one.
  const versionFlags = new Set(flags((program.options as Option[]).find((o) => o.long === '--version')!));
  const globalWords = [...(program.options as Option[]).flatMap(flags).filter((f) => !versionFlags.has(f)), '-h', '--help'];

  const transitions = nodes
    .filter((n) => n.path !== '')
    .map((n) => {
      const parent = n.path.slice(0, n.path.lastIndexOf('/'));
      const patterns = [n.command.name(), ...n.command.aliases()].map((w) => `"${parent}/${w}"`).join('|');
      return `      ${patterns}) path=${n.path} ;;`;
    });

  const valueCases: string[] = [];
  for (const o of takesValue) {
    const pattern = flags(o).join('|');
    if (FILE_OPTIONS.has(o.long ?? '')) valueCases.push(`    ${pattern}) COMPREPLY=($(compgen -f -- "$cur")); return ;;`);
    else if (o.argChoices !== undefined) valueCases.push(`    ${pattern}) COMPREPLY=($(compgen -W "${o.argChoices.join(' ')}" -- "$cur")); return ;;`);
    else valueCases.push(`    ${pattern}) COMPREPLY=(); return ;;`);
  }

  const wordCases = nodes.map((n) => {
    const subs = n.command.commands.flatMap((c) => [c.name(), ...c.aliases()]);
    const choices = n.command.registeredArguments.flatMap((a) => a.argChoices ?? []);
    const own = n.path === '' ? [...versionFlags] : (n.command.options as Option[]).flatMap(flags);
    const words = [...new Set([...subs, ...choices, ...own, ...globalWords])];
    return `    "${n.path}") words="${words.join(' ')}" ;;`;
  });

  return `# bash completion for ${name}: source <(${name} completion bash)
${fn}() {
  local cur=\${COMP_WORDS[COMP_CWORD]} prev=\${COMP_WORDS[COMP_CWORD-1]}
  local path= skip= words= i w
  for ((i = 1; i < COMP_CWORD; i++)); do
    w=\${COMP_WORDS[i]}
    if [[ -n $skip ]]; then skip=; continue; fi
    case $w in
      ${takesValue.flatMap(flags).join('|')}) skip=1; continue ;;
      -*) continue ;;
    esac
    case "$path/$w" in
${transitions.join('\n')}
    esac
  done
  case $prev in
${valueCases.join('\n')}
  esac
  case $path in
${wordCases.join('\n')}
  esac
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
}
complete -F ${fn} ${name}
`;
}
