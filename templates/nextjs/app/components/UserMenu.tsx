"use client";

import { useEffect, useState } from "react";
import { apiUrl } from "@/lib/app";

type Me = { id: string; email: string; name: string };

/** Sign-in state in the header: a sign-in link, or the user's name and a sign-out button. */
export function UserMenu() {
  const [me, setMe] = useState<Me | null | undefined>(undefined);

  useEffect(() => {
    fetch(apiUrl("/api/me"), { cache: "no-store" })
      .then((res) => (res.ok ? (res.json() as Promise<Me>) : null))
      .then(setMe)
      .catch(() => setMe(null));
  }, []);

  async function signOut() {
    await fetch(apiUrl("/api/auth/logout"), { method: "POST" });
    window.location.assign(apiUrl("/"));
  }

  if (me === undefined) return <div className="user-menu" aria-busy="true" />;
  if (me === null) {
    return (
      <div className="user-menu">
        <a className="button button-primary" href={apiUrl("/api/auth/login")}>
          Sign in
        </a>
      </div>
    );
  }
  return (
    <div className="user-menu">
      <span className="avatar" aria-hidden="true">
        {(me.name || me.email).slice(0, 1).toUpperCase()}
      </span>
      <span className="user-name" title={me.email}>
        {me.name || me.email}
      </span>
      <button type="button" className="button button-ghost" onClick={signOut}>
        Sign out
      </button>
    </div>
  );
}
