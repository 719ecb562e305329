export function App() {
  return <p>margo console</p>;
}
