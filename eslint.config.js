// ESLint: type-aware rules that keep a daemon honest (no dropped promises) and the module graph
// acyclic (STYLE.md 17). Formatting is Prettier's job (`npm run format`), not ESLint's.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import { createNodeResolver, importX } from 'eslint-plugin-import-x';

export default tseslint.config(
  {
    ignores: ['dist/', 'dist-bench/', 'dist-torture/', 'node_modules/', 'coverage/', 'bench/results/', 'torture/results/'],
  },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    plugins: { 'import-x': importX },
    settings: {
      // import-x reads the imported modules too: it must know they are TypeScript.
      'import-x/extensions': ['.ts', '.js'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
      // Sources import './x.js' for './x.ts' (NodeNext): resolve them as tsc does.
      'import-x/resolver-next': [createNodeResolver({ extensions: ['.ts', '.js'], extensionAlias: { '.js': ['.ts', '.js'] } })],
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' }],
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
      'max-lines': ['error', { max: 300, skipBlankLines: false, skipComments: false }],
      'max-lines-per-function': ['error', { max: 80, skipBlankLines: false, skipComments: false }],
    },
  },
  {
    // The product's arrays can be as long as the tree; tests and benchmarks build short ones.
    files: ['src/**/*.ts'],
    rules: {
      'no-restricted-syntax': [
        'error',
        {
          // An array as long as the tree spread into arguments overflows the stack (issue 13).
          selector:
            "CallExpression[callee.property.name=/^(push|unshift)$/] > SpreadElement, CallExpression[callee.object.name='Math'] > SpreadElement",
          message: 'Spreading an array into arguments overflows the stack when it is long: use append() or minOf() from src/arrays.ts.',
        },
      ],
    },
  },
  {
    // Tests and benchmarks: long table-driven functions are fine there, and so is reading a JSON
    // answer without declaring its type first; a dropped promise is not.
    files: ['test/**/*.ts', 'bench/**/*.ts', 'torture/**/*.ts'],
    rules: {
      'max-lines': 'off',
      'max-lines-per-function': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/require-await': 'off',
      'no-control-regex': 'off',
    },
  },
  { files: ['**/*.js'], ...tseslint.configs.disableTypeChecked },
);
