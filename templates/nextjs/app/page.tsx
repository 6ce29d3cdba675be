import Link from "next/link";
import { APP_NAME } from "@/lib/app";

export default function HomePage() {
  return (
    <section className="hero">
      <p className="eyebrow">Welcome</p>
      <h1>{APP_NAME}</h1>
      <p className="lead">
        Sign in with your MGX account, then keep track of your items. Everything you add is
        stored in MongoDB and only visible to you.
      </p>
      <div className="hero-actions">
        <Link href="/items" className="button button-primary">
          Open items
        </Link>
      </div>
    </section>
  );
}
