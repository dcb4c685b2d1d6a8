import type { Check } from './index.js';

// Scaffolding: filled in by the sql checks.
export const sqlChecks: Check = () => [];
