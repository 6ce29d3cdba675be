import type { ComponentType } from "react";
import { APP_NAME } from "./app";
import { UserMenu } from "./components/UserMenu";
import { HomePage } from "./pages/HomePage";
import { ItemsPage } from "./pages/ItemsPage";
import { usePath } from "./navigation";
import { Link } from "./router";

/** Routes of the app (paths under the base path). A new page adds its line here. */
const ROUTES: Record<string, ComponentType> = {
  "/": HomePage,
  "/items": ItemsPage,
};

function NotFound() {
  return (
    <section className="hero">
      <h1>Page not found</h1>
      <Link to="/">Back home</Link>
    </section>
  );
}

export function App() {
  const path = usePath();
  const Page = ROUTES[path] ?? NotFound;
  return (
    <>
      <header className="topbar">
        <div className="topbar-inner">
          <Link to="/" className="brand">
            <span className="brand-mark" aria-hidden="true">
              {APP_NAME.slice(0, 1).toUpperCase()}
            </span>
            <span className="brand-name">{APP_NAME}</span>
          </Link>
          <nav className="nav" aria-label="Main">
            <Link to="/items">Items</Link>
          </nav>
          <UserMenu />
        </div>
      </header>
      <main className="container">
        <Page />
      </main>
      <footer className="footer">Built with MGX</footer>
    </>
  );
}
