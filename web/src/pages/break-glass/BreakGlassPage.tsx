/** Placeholder: the Break glass screen is written by its own change (issue 15, points 9–10). */
export function BreakGlassPage() {
  return <p>Break glass</p>;
}
