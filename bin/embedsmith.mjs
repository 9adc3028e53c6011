#!/usr/bin/env node
// The `embedsmith` command. Runs the TypeScript sources through tsx's loader so the CLI, `serve` and
// the tests share one code path without a build step.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/main/cli/index.ts');
const code = await main(process.argv.slice(2));
process.exitCode = code;
