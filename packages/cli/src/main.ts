/** Entry point of the `margo` command. Returns the process exit code. */
export async function main(argv: string[]): Promise<number> {
  void argv;
  process.stdout.write('margo: not built yet\n');
  return 0;
}
