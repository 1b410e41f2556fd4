export * from './browser';
export * from './gateway';
