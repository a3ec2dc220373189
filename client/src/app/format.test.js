import { describe, expect, it } from 'vitest';
import { countsText } from './format';

describe('countsText', () => {
  it('lists each count before its key, in the object’s order', () => {
    expect(countsText({ attendee: 7, organizer: 2, admin: 1 })).toBe('7 attendee · 2 organizer · 1 admin');
  });

  it('is empty for no counts', () => {
    expect(countsText({})).toBe('');
    expect(countsText(undefined)).toBe('');
    expect(countsText(null)).toBe('');
  });
});
