#!/usr/bin/env node
// Thin launcher: the CLI is compiled to dist/ by `npm run build` (run automatically by `npm ci`).
import { main } from '../dist/main.js';

const code = await main(process.argv);
// Exit explicitly once stdout is flushed: long-running commands (serve, agent, quickstart) may
// leave library timers or sockets behind after a clean stop.
process.stdout.write('', () => process.exit(code));
