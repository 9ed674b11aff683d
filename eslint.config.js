// ESLint: typescript-eslint's strict type-checked rules on the TypeScript of shared/, services/, cli/
// and test/ (the tests too: a test that cannot fail is as wrong as code that cannot work).
import eslint from '@eslint/js';
import tseslint from 'typescript-eslint';

export default tseslint.config(
  {
    ignores: [
      '**/dist/**',
      '**/node_modules/**',
      '.cache/**',
      'demo-out/**',
      'coverage/**',
      'reports/**',
      '**/*.cjs',
      '**/*.mjs',
      '**/*.js',
    ],
  },
  eslint.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: { parserOptions: { project: './tsconfig.eslint.json', tsconfigRootDir: import.meta.dirname } },
    rules: {
      // Numbers and booleans in messages read well: `${count} rows`.
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
      // Unused arguments named with a leading underscore are deliberate (an interface's signature).
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' },
      ],
      // `(x) => void f(x)` is not clearer than `(x) => f(x)` for a callback whose result is ignored.
      '@typescript-eslint/no-confusing-void-expression': ['error', { ignoreArrowShorthand: true }],
      // Ports are async interfaces: an `async` implementation that throws rejects, as callers
      // expect; the same method without `async` would throw synchronously instead.
      '@typescript-eslint/require-await': 'off',
    },
  },
  {
    // Errors are created from the registry (createError): details typed by code, retriability the
    // code's (issue 17). Only the registry itself constructs the class.
    files: ['**/*.ts'],
    ignores: ['shared/src/errors/**'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          selector: "NewExpression[callee.name='BottleneckError']",
          message:
            "Create errors with createError(code, message, { details, cause }) from shared/src/errors: its details are typed by code and its retriability is the code's.",
        },
      ],
    },
  },
  {
    // The XML scanner and the cell decoder index bytes, frames and cells inside bounds they have just
    // checked, once per byte or cell: a runtime check there costs measurable time (issue 8).
    files: ['shared/src/excel/xml.ts', 'shared/src/excel/sheet.ts', 'shared/src/excel/workbook.ts'],
    rules: { '@typescript-eslint/no-non-null-assertion': 'off' },
  },
  {
    // Tests assert on what they read back (JSON of events, records, logs): a value that is absent
    // fails the test at the `!` or the property access, which is what a test should do. Fakes
    // implement async interfaces without awaiting anything.
    files: ['**/*.test.ts', '**/*.bench.ts', 'test/**/*.ts', 'shared/src/testing/**/*.ts'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      // Fakes are cast into the ports they stand in for; clean-up in afterAll guards what setup
      // may not have made; what a test prints of a cell or an event is for a person to read.
      '@typescript-eslint/no-unsafe-class-instance-assignment': 'off',
      '@typescript-eslint/no-misused-spread': 'off',
      '@typescript-eslint/no-unnecessary-condition': 'off',
      '@typescript-eslint/no-base-to-string': 'off',
      '@typescript-eslint/restrict-plus-operands': 'off',
      '@typescript-eslint/use-unknown-in-catch-callback-variable': 'off',
      '@typescript-eslint/no-dynamic-delete': 'off',
      '@typescript-eslint/no-unnecessary-type-conversion': 'off',
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/unbound-method': 'off',
      '@typescript-eslint/no-unnecessary-type-assertion': 'off',
    },
  },
);
