import type { Metadata, Viewport } from "next";
import Link from "next/link";
import { UserMenu } from "@/app/components/UserMenu";
import { APP_NAME } from "@/lib/app";
import "./globals.css";

export const metadata: Metadata = {
  title: { default: APP_NAME, template: `%s · ${APP_NAME}` },
  description: `${APP_NAME}, built with MGX`,
  icons: { icon: `${process.env.NEXT_PUBLIC_BASE_PATH ?? ""}/favicon.svg` },
};

export const viewport: Viewport = { width: "device-width", initialScale: 1, themeColor: "#4f46e5" };

export default function RootLayout({ children }: Readonly<{ children: React.ReactNode }>) {
  return (
    <html lang="en">
      <body>
        <header className="topbar">
          <div className="topbar-inner">
            <Link href="/" className="brand">
              <span className="brand-mark" aria-hidden="true">
                {APP_NAME.slice(0, 1).toUpperCase()}
              </span>
              <span className="brand-name">{APP_NAME}</span>
            </Link>
            <nav className="nav" aria-label="Main">
              <Link href="/items">Items</Link>
            </nav>
            <UserMenu />
          </div>
        </header>
        <main className="container">{children}</main>
        <footer className="footer">Built with MGX</footer>
      </body>
    </html>
  );
}
