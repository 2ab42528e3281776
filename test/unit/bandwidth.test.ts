import { describe, expect, it } from 'vitest';
import { limitAt, stricterLimit } from '../../shared/bandwidth.js';

const setting = {
  limitKiBps: 2048,
  windows: [
    { from: '22:00', to: '06:00', limitKiBps: null }, // nights unlimited
    { from: '12:00', to: '13:00', limitKiBps: 8192 }, // lunch break
  ],
};

describe('limitAt', () => {
  it('applies the window containing the local time, else the default', () => {
    const berlin = 'Europe/Berlin';
    expect(limitAt(setting, new Date('2026-03-02T08:00:00Z'), berlin)).toBe(2048); // 09:00
    expect(limitAt(setting, new Date('2026-03-02T11:30:00Z'), berlin)).toBe(8192); // 12:30
    expect(limitAt(setting, new Date('2026-03-02T12:00:00Z'), berlin)).toBe(2048); // 13:00, end is exclusive
    expect(limitAt(setting, new Date('2026-03-02T21:00:00Z'), berlin)).toBeNull(); // 22:00
    expect(limitAt(setting, new Date('2026-03-02T02:00:00Z'), berlin)).toBeNull(); // 03:00, past midnight
    expect(limitAt(setting, new Date('2026-03-02T05:00:00Z'), berlin)).toBe(2048); // 06:00
    // Summer time: 21:00Z is 23:00 in Berlin.
    expect(limitAt(setting, new Date('2026-07-01T20:30:00Z'), berlin)).toBeNull();
    expect(limitAt(setting, new Date('2026-07-01T20:30:00Z'), 'UTC')).toBe(2048);
  });

  it('combines limits by taking the stricter', () => {
    expect(stricterLimit(null, null)).toBeNull();
    expect(stricterLimit(null, 100)).toBe(100);
    expect(stricterLimit(300, 100)).toBe(100);
  });
});
