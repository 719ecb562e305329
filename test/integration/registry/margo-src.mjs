// Runs the margo CLI from its TypeScript sources (node --conditions=source --import tsx), so these
// tests exercise the code in the working tree without a build.
import { main } from '../../../packages/cli/src/main.ts';

const code = await main(process.argv);
process.stdout.write('', () => process.exit(code));
