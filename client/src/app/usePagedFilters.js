import { useState } from 'react';

/**
 * Filter values plus the page number of the list they select. `setFilter(name)` is an onChange
 * handler that stores the input's value and goes back to page 1.
 */
export function usePagedFilters(initial) {
  const [filters, setFilters] = useState(() => ({ ...initial, page: 1 }));
  const setFilter = (name) => (e) => setFilters((f) => ({ ...f, [name]: e.target.value, page: 1 }));
  const setPage = (page) => setFilters((f) => ({ ...f, page }));
  return [filters, setFilter, setPage];
}
