/**
 * `keel-server restore <backup> --id <id> --initial-cluster <members> --data-dir <dir>`: seed the
 * data directory of one member of a NEW cluster from a backup (`kvctl snapshot save`), as
 * `etcdutl snapshot restore` does. Run it for every member with the same backup and the same
 * `--initial-cluster`, then start each member with its usual flags: the cluster comes up with
 * the backup's keys and revisions and the new membership.
 *
 * Exit status: 0 restored; 2 bad arguments, or the data directory holds a node's data; 3 the data
 * directory is in use; 4 no space; 7 the backup is damaged or truncated; 1 anything else.
 */
import { createReadStream } from 'node:fs';
import { access } from 'node:fs/promises';
import { Command, CommanderError } from 'commander';
import type { Member } from '@keel/protocol';
import { ConfigError } from '../node/config.js';
import { restoreBackup } from '../storage/restore.js';
import { EXIT, describeFailure } from './exit-status.js';
import { parseInitialCluster } from './options.js';

const HELP_AFTER = `
Every member of the new cluster restores the same backup, with the same --initial-cluster and
its own --id and --data-dir; then each starts as usual, e.g.
  keel-server restore backup.keel --id 1 --data-dir /var/lib/keel/1 \\
    --initial-cluster 1=10.0.0.1:7101/10.0.0.1:7001,2=10.0.0.2:7101/10.0.0.2:7001,3=10.0.0.3:7101/10.0.0.3:7001
  keel-server --id 1 --data-dir /var/lib/keel/1 --initial-cluster <the same>
The data directory must be new. Keys keep their revisions; new writes get higher ones.

Exit status: 0 restored; 2 bad arguments, or the data directory already holds data; 3 the data
directory is in use; 4 no space left; 7 the backup is damaged or truncated; 1 anything else.
`;

/** Runs the restore command with `argv` (after "restore"); resolves with the exit status, printing one line. */
export async function runRestore(argv: readonly string[]): Promise<number> {
  const program = new Command('keel-server restore')
    .description('Seed the data directory of a member of a new cluster from a backup (kvctl snapshot save).')
    .argument('<backup-file>', 'the backup to restore')
    .requiredOption('--id <id>', "this member's id in the new cluster")
    .requiredOption('--initial-cluster <members>', 'the new cluster: id=peerHost:peerPort/clientHost:clientPort,… (as the members will start with)')
    .requiredOption('--data-dir <dir>', 'the data directory to create (must be new)')
    .helpOption('-h, --help', 'show this help')
    .addHelpText('after', HELP_AFTER)
    .exitOverride()
    .configureOutput({ writeOut: (s) => process.stdout.write(s), outputError: () => undefined });
  let file: string;
  let members: Member[];
  let id: number;
  let dataDir: string;
  try {
    program.parse([...argv], { from: 'user' });
    const opts = program.opts<{ id: string; initialCluster: string; dataDir: string }>();
    file = program.args[0]!;
    id = Number(opts.id);
    if (!/^\d+$/.test(opts.id) || !Number.isSafeInteger(id) || id < 1) throw new ConfigError(`--id: "${opts.id}" is not a positive integer`);
    members = parseInitialCluster({ value: opts.initialCluster, origin: '--initial-cluster' }).map((m) => ({ ...m, role: 'voter' as const }));
    if (!members.some((m) => m.id === id)) throw new ConfigError(`--initial-cluster does not contain this node's id ${id}`);
    dataDir = opts.dataDir;
    await access(file).catch((error: Error) => {
      throw new ConfigError(`cannot read backup file ${file}: ${error.message}`);
    });
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.exitCode === 0) return EXIT.OK;
      return usage(error.message.replace(/^error: /, ''));
    }
    if (error instanceof ConfigError) return usage(error.message);
    throw error;
  }
  try {
    const summary = await restoreBackup(dataDir, createReadStream(file), { nodeId: id, members });
    process.stdout.write(
      `restored revision ${summary.revision} (${summary.keys} keys, ${summary.sessions} sessions; backup of cluster "${summary.clusterId}" ` +
        `taken ${summary.createdAt}, sha256 ${summary.sha256}) into ${dataDir} as node ${id} of a new cluster of ${members.length}; ` +
        `start it with the same --id, --data-dir and --initial-cluster\n`,
    );
    return EXIT.OK;
  } catch (error) {
    const report = describeFailure(error);
    process.stderr.write(`keel-server restore: ${report.message}\n`);
    return report.status;
  }
}

function usage(message: string): number {
  process.stderr.write(`keel-server restore: ${message} (see keel-server restore --help)\n`);
  return EXIT.CONFIG;
}
