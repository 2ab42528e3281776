import type { TrayLevel } from '../../shared/app-state.js';

/** The colours of the tray states (RGB): green, amber, red. */
export const TRAY_COLOURS: Record<TrayLevel, [number, number, number]> = {
  green: [0x2e, 0x9d, 0x4f],
  amber: [0xe0, 0x9b, 0x16],
  red: [0xd1, 0x34, 0x38],
};

/**
 * The tray icon as raw BGRA pixels (what Electron's nativeImage.createFromBitmap
 * takes): a filled disc in the state's colour with a soft edge; while runs are
 * going, a white centre dot marks activity. Drawn in code so that no image file
 * has to ship per state and size.
 */
export function trayIconBitmap(level: TrayLevel, size: number, active: boolean): Buffer {
  const [r, g, b] = TRAY_COLOURS[level];
  const px = Buffer.alloc(size * size * 4);
  const c = (size - 1) / 2;
  const radius = size / 2 - 0.5;
  const dot = size / 6;
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const d = Math.hypot(x - c, y - c);
      const alpha = Math.max(0, Math.min(1, radius - d + 0.5));
      const white = active && d <= dot;
      const i = (y * size + x) * 4;
      px[i] = white ? 255 : b;
      px[i + 1] = white ? 255 : g;
      px[i + 2] = white ? 255 : r;
      px[i + 3] = Math.round(alpha * 255);
    }
  }
  return px;
}
