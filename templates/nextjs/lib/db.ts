import { MongoClient, type Db } from "mongodb";
import { APP_SLUG } from "@/lib/app";
import { getConfig } from "@/lib/config";

// Kept on globalThis so `next dev` reloads reuse one connection pool.
type State = { client?: MongoClient; db?: Db };
const g = globalThis as typeof globalThis & { __appDb?: State };
const state: State = (g.__appDb ??= {});

/**
 * getDb returns the app's database (MONGODB_URL, MONGODB_DB). The driver connects lazily
 * and gives up on a server it cannot reach after 3 s instead of hanging a request.
 */
export function getDb(): Db {
  if (!state.db) {
    const { mongo } = getConfig();
    const client = new MongoClient(mongo.url, {
      appName: APP_SLUG,
      serverSelectionTimeoutMS: 3000,
      connectTimeoutMS: 3000,
    });
    // A first connection that fails closes the client for good; start over with a new one
    // on the next call, so the app recovers when the database comes up after it.
    client.on("topologyClosed", () => {
      if (state.client === client) {
        state.client = undefined;
        state.db = undefined;
      }
    });
    state.client = client;
    state.db = client.db(mongo.db);
  }
  return state.db;
}

/** setDbForTests swaps in a fake database (see test/fake-db.ts); undefined resets. */
export function setDbForTests(db: Db | undefined): void {
  state.db = db;
  state.client = undefined;
}

/** pingDb checks the database answers within timeoutMs. */
export async function pingDb(timeoutMs = 4000): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    try {
      await Promise.race([getDb().command({ ping: 1 }), timeout]);
    } catch (err) {
      // The client closed itself after a failed first connection: retry once with a new one.
      if ((err as Error).name !== "MongoTopologyClosedError") throw err;
      state.client = undefined;
      state.db = undefined;
      await Promise.race([getDb().command({ ping: 1 }), timeout]);
    }
  } finally {
    clearTimeout(timer);
  }
}
