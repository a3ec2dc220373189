import { vi } from 'vitest';

/** The API module with its HTTP calls replaced by spies; ApiError and the rest stay real. */
export async function mockApiModule(importOriginal) {
  const actual = await importOriginal();
  return {
    ...actual,
    api: { get: vi.fn(), post: vi.fn(), put: vi.fn(), patch: vi.fn(), del: vi.fn() },
    newIdempotencyKey: vi.fn(() => 'idem-key-1'),
  };
}
