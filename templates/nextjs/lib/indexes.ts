import type { IndexDescription } from "mongodb";
import { getDb } from "@/lib/db";
import { itemIndexes } from "@/lib/items";
import { log } from "@/lib/log";
import { authStateIndexes, sessionIndexes } from "@/lib/session";
import { userIndexes } from "@/lib/users";

/** Every collection's indexes. A new entity adds its line here. */
const INDEXES: Record<string, IndexDescription[]> = {
  users: userIndexes,
  sessions: sessionIndexes,
  auth_states: authStateIndexes,
  items: itemIndexes,
};

let done = false;

/** ensureIndexes creates missing indexes once per process; it retries after a failure. */
export async function ensureIndexes(): Promise<boolean> {
  if (done) return true;
  try {
    const db = getDb();
    for (const [name, specs] of Object.entries(INDEXES)) {
      // One index per call: FerretDB v1 drops the connection when one createIndexes names
      // several indexes that already exist.
      for (const spec of specs) await db.collection(name).createIndexes([spec]);
    }
    done = true;
  } catch (err) {
    log.warn("indexes not created yet", { error: String(err) });
  }
  return done;
}
