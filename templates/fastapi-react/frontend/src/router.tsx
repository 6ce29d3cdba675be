import type { AnchorHTMLAttributes, MouseEvent } from "react";
import { url } from "./app";
import { navigate } from "./navigation";

/** Link is an <a> to a route ("/items") that navigates without reloading. */
export function Link({ to, ...props }: { to: string } & AnchorHTMLAttributes<HTMLAnchorElement>) {
  function onClick(e: MouseEvent<HTMLAnchorElement>) {
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(to);
  }
  return <a {...props} href={url(to)} onClick={onClick} />;
}
