import type { Check } from './index.js';

// Scaffolding: filled in by the templates checks.
export const templateChecks: Check = () => [];
