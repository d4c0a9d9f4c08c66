#!/usr/bin/env node
// Thin launcher: the CLI lives in dist/cli/main.js (built by `npm run build`, run by `npm ci`); it
// starts from esbuild's bundle of it, dist/cli-bundle/main.js (scripts/bundle-cli.mjs).
import { main } from '../dist/cli-bundle/main.js';

process.exitCode = await main(process.argv);
