import { describe, expect, it } from 'vitest';
import { act, renderHook } from '@testing-library/react';
import { usePagedFilters } from './usePagedFilters';

const change = (value) => ({ target: { value } });

describe('usePagedFilters', () => {
  it('starts on page 1 with the given filters', () => {
    const { result } = renderHook(() => usePagedFilters({ q: '', role: '' }));
    expect(result.current[0]).toEqual({ q: '', role: '', page: 1 });
  });

  it('changing a filter keeps the others and goes back to page 1', () => {
    const { result } = renderHook(() => usePagedFilters({ q: '', role: '' }));
    act(() => result.current[2](3));
    expect(result.current[0].page).toBe(3);

    act(() => result.current[1]('role')(change('admin')));
    expect(result.current[0]).toEqual({ q: '', role: 'admin', page: 1 });

    act(() => result.current[2](2));
    act(() => result.current[1]('q')(change('wa')));
    expect(result.current[0]).toEqual({ q: 'wa', role: 'admin', page: 1 });
  });
});
