import type { Check } from './index.js';

// Scaffolding: filled in by the semantic checks.
export const semanticChecks: Check = () => [];
