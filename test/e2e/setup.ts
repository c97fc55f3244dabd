import { jest } from '@jest/globals';

// Whole-system tests start processes and wait on IAM's eventual consistency.
jest.setTimeout(180_000);
