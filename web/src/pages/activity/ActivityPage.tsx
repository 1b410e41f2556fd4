/** Placeholder: the Activity screen is written by its own change (issue 15, points 5–8). */
export function ActivityPage() {
  return <p>Activity</p>;
}
