// Placeholder until the simulator lands: `pnpm sim` prints why it cannot run yet.
process.stderr.write('pnpm sim: the simulator is not built yet\n');
process.exit(2);
