import type { Metadata } from "next";
import { ItemsView } from "@/app/items/items-view";

export const metadata: Metadata = { title: "Items" };

export default function ItemsPage() {
  return (
    <section>
      <div className="page-head">
        <h1>Items</h1>
        <p className="muted">Add, tick off, rename and delete your items.</p>
      </div>
      <ItemsView />
    </section>
  );
}
