import { afterEach, describe, expect, it, vi } from 'vitest';
import { cleanup, fireEvent, render, screen } from '@testing-library/react';
import FormActions from './FormActions';
import TableHead from './TableHead';

describe('shared components', () => {
  afterEach(cleanup);

  it('TableHead renders one column header per name, in order', () => {
    render(
      <table>
        <TableHead columns={['Name', 'Email', 'Roles']} />
      </table>,
    );
    const headers = screen.getAllByRole('columnheader');
    expect(headers.map((th) => th.textContent)).toEqual(['Name', 'Email', 'Roles']);
    expect(headers.every((th) => th.getAttribute('scope') === 'col')).toBe(true);
  });

  it('FormActions submits the form, and Cancel only cancels', () => {
    const onSubmit = vi.fn((e) => e.preventDefault());
    const onCancel = vi.fn();
    render(
      <form onSubmit={onSubmit}>
        <FormActions submitLabel="Save name" onCancel={onCancel} />
      </form>,
    );
    fireEvent.click(screen.getByRole('button', { name: 'Cancel' }));
    expect(onCancel).toHaveBeenCalledTimes(1);
    expect(onSubmit).not.toHaveBeenCalled();
    fireEvent.click(screen.getByRole('button', { name: 'Save name' }));
    expect(onSubmit).toHaveBeenCalledTimes(1);
  });

  it('FormActions can disable only the submit button', () => {
    render(<FormActions submitLabel="Saving…" submitDisabled onCancel={() => {}} />);
    expect(screen.getByRole('button', { name: 'Saving…' }).disabled).toBe(true);
    expect(screen.getByRole('button', { name: 'Cancel' }).disabled).toBe(false);
  });
});
