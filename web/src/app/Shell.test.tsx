import { expect, test } from '@jest/globals';
import { render, screen } from '@testing-library/react';
import { App } from './App';

test('the shell renders its navigation', () => {
  render(<App />);
  expect(screen.getByText('Gatehouse')).toBeTruthy();
});
