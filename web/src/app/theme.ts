import { createTheme, type CSSVariablesResolver } from '@mantine/core';

export const theme = createTheme({
  primaryColor: 'indigo',
  defaultRadius: 'sm',
  fontFamily: 'system-ui, -apple-system, "Segoe UI", Roboto, sans-serif',
  // Someone who asked the system for less motion gets dialogs and menus without animation.
  respectReducedMotion: true,
});

/**
 * Mantine's "dimmed" grey is below WCAG AA contrast (3.3:1 on white); the console's secondary
 * text uses a darker grey in light mode and a lighter one in dark mode (≥ 4.5:1 on both).
 */
export const cssVariablesResolver: CSSVariablesResolver = () => ({
  variables: {},
  light: { '--mantine-color-dimmed': 'var(--mantine-color-gray-7)' },
  dark: { '--mantine-color-dimmed': 'var(--mantine-color-dark-1)' },
});
