export { BreakGlassPage } from './BreakGlassPage';
