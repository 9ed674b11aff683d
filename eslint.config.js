// ESLint: typescript-eslint's strict type-checked rules on the TypeScript of shared/, services/, cli/
// and test/ (the tests too: a test that cannot fail is as wrong as code that cannot work).
import eslint from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', '.cache/**', 'demo-out/**', 'coverage/**', 'reports/**', '**/*.cjs', '**/*.mjs', '**/*.js'] },
  eslint.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: { parserOptions: { project: './tsconfig.eslint.json', tsconfigRootDir: import.meta.dirname } },
    rules: {
      // Numbers and booleans in messages read well: `${count} rows`.
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
      // Unused arguments named with a leading underscore are deliberate (an interface's signature).
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
    },
  },
);
