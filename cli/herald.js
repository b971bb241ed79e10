#!/usr/bin/env node
// The `herald` command: runs the compiled CLI (npm ci builds it through the root's `prepare` script).
// It lives in this small workspace package because npm links a workspace's bin into
// node_modules/.bin, which is where `npx herald` looks inside the project.
import '../dist/src/cli/main.js';
