import { useEffect, useState } from "react";
import { fetchMe, loginUrl, logout, type Me } from "../api/client";
import { url } from "../app";

/** Sign-in state in the header: a sign-in link, or the user's name and a sign-out button. */
export function UserMenu() {
  const [me, setMe] = useState<Me | null | undefined>(undefined);

  useEffect(() => {
    fetchMe()
      .then(setMe)
      .catch(() => setMe(null));
  }, []);

  async function signOut() {
    await logout().catch(() => undefined);
    window.location.assign(url("/"));
  }

  if (me === undefined) return <div className="user-menu" aria-busy="true" />;
  if (me === null) {
    return (
      <div className="user-menu">
        <a className="button button-primary" href={loginUrl()}>
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
