import type { Check } from './index.js';

// Scaffolding: filled in by the lists checks.
export const listChecks: Check = () => [];
