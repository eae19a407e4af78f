#!/usr/bin/env node
// Thin launcher: the CLI is compiled from src/cli by `npm run build` (run by `npm ci` via prepare).
import '../dist/src/cli/bin.js';
