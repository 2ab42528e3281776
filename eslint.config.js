import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import globals from 'globals';

export default tseslint.config(
  { ignores: ['dist/**', 'native/build/**', 'node_modules/**', 'renderer/dist/**', 'bench-work/**', 'test-artifacts/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: { globals: { ...globals.node } },
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // The React UI runs in a browser (or Electron's sandboxed renderer), never in Node: browser globals, Node's off.
    files: ['renderer/**/*.{ts,tsx}'],
    languageOptions: {
      globals: {
        ...Object.fromEntries(Object.keys(globals.node).filter((g) => !(g in globals.browser)).map((g) => [g, 'off'])),
        ...globals.browser,
      },
    },
  },
);
