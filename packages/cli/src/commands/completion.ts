import type { Command } from 'commander';
import { MargoError } from '@margo-gitops/spec';
import type { CommandDeps } from '../context.js';

export interface CompletionOptions {
  shell: string;
  program: Command;
}

interface Node {
  path: string[];
  subcommands: string[];
  options: string[];
}

function walk(c: Command, path: string[], out: Node[]): Node[] {
  const subs = c.commands.map((s) => s.name());
  const options = [
    ...c.options.flatMap((o) => [o.long, o.short].filter((x): x is string => Boolean(x))),
    '--help',
  ];
  out.push({ path, subcommands: subs, options });
  for (const s of c.commands) walk(s as Command, [...path, s.name()], out);
  return out;
}

/** A bash completion script derived from the command tree (so it cannot drift from the CLI). */
export function bashScript(program: Command): string {
  const nodes = walk(program, [], []);
  const cases = nodes
    .map((n) => `    "${n.path.join(' ')}") words="${[...n.subcommands, ...n.options].join(' ')}" ;;`)
    .join('\n');
  return `# bash completion for margo; load with: source <(margo completion bash)
_margo() {
  local cur path i w words
  cur="\${COMP_WORDS[COMP_CWORD]}"
  path=""
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    [[ "$w" == -* ]] && continue
    case "$(_margo_words "\${path:+$path }$w")" in
      __none__) ;;
      *) path="\${path:+$path }$w" ;;
    esac
  done
  words="$(_margo_words "$path")"
  [[ "$words" == __none__ ]] && words=""
  if [[ "$cur" != -* ]]; then
    case "\${COMP_WORDS[COMP_CWORD-1]}" in
      -o|--output) COMPREPLY=($(compgen -W "table json yaml" -- "$cur")); return ;;
      --data|--state) COMPREPLY=($(compgen -d -- "$cur")); return ;;
    esac
  fi
  COMPREPLY=($(compgen -W "$words" -- "$cur"))
  if [[ \${#COMPREPLY[@]} -eq 0 && "$cur" != -* ]]; then COMPREPLY=($(compgen -f -- "$cur")); fi
}
_margo_words() {
  local words
  case "$1" in
${cases}
    *) words="__none__" ;;
  esac
  echo "$words"
}
complete -F _margo margo
`;
}

/** A zsh completion script (uses bashcompinit with the bash script). */
export function zshScript(program: Command): string {
  return `#compdef margo
# zsh completion for margo; install with: margo completion zsh > "\${fpath[1]}/_margo"
autoload -U +X bashcompinit && bashcompinit
${bashScript(program).replace(/^# bash completion.*\n/, '')}`;
}

export async function run(opts: CompletionOptions, deps: CommandDeps): Promise<number> {
  if (opts.shell === 'bash') deps.io.out(bashScript(opts.program));
  else if (opts.shell === 'zsh') deps.io.out(zshScript(opts.program));
  else
    throw new MargoError('USAGE_ERROR', `no completion for shell "${opts.shell}"`, {
      hint: 'Use `margo completion bash` or `margo completion zsh`.',
    });
  return 0;
}
