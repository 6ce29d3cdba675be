// A small in-memory stand-in for the MongoDB driver's Db, covering the calls the app makes.
// Tests inject it with setDbForTests(fakeDb() as unknown as Db); no server is needed.
import { ObjectId } from "mongodb";

type Doc = Record<string, unknown>;

function same(a: unknown, b: unknown): boolean {
  if (a instanceof ObjectId || b instanceof ObjectId) return String(a) === String(b);
  if (a instanceof Date && b instanceof Date) return a.getTime() === b.getTime();
  return a === b;
}

// Shallow copies: values are primitives, Dates and ObjectIds, which the app never mutates
// (structuredClone would turn ObjectIds into plain objects).
const clone = (d: Doc): Doc => ({ ...d });

function matches(doc: Doc, filter: Doc): boolean {
  return Object.entries(filter).every(([k, v]) => same(doc[k], v));
}

function applyUpdate(doc: Doc, update: Doc, inserting: boolean): void {
  Object.assign(doc, (update.$set as Doc) ?? {});
  if (inserting) Object.assign(doc, (update.$setOnInsert as Doc) ?? {});
}

export class FakeCollection {
  docs: Doc[] = [];
  indexes: unknown[] = [];

  async insertOne(doc: Doc) {
    if (doc._id === undefined) doc._id = new ObjectId();
    if (this.docs.some((d) => same(d._id, doc._id))) throw new Error("E11000 duplicate key");
    this.docs.push(clone(doc));
    return { acknowledged: true, insertedId: doc._id };
  }

  async findOne(filter: Doc) {
    const d = this.docs.find((x) => matches(x, filter));
    return d ? clone(d) : null;
  }

  find(filter: Doc = {}) {
    let out = this.docs.filter((d) => matches(d, filter));
    const cursor = {
      sort: (spec: Record<string, 1 | -1>) => {
        const [[key, dir]] = Object.entries(spec);
        out = [...out].sort((a, b) => ((a[key] as number) > (b[key] as number) ? dir : -dir));
        return cursor;
      },
      limit: (n: number) => {
        out = out.slice(0, n);
        return cursor;
      },
      toArray: async () => out.map((d) => clone(d)),
    };
    return cursor;
  }

  async findOneAndUpdate(filter: Doc, update: Doc, opts: { upsert?: boolean; returnDocument?: string } = {}) {
    let doc = this.docs.find((d) => matches(d, filter));
    const before = doc ? clone(doc) : null;
    if (!doc) {
      if (!opts.upsert) return null;
      doc = { _id: new ObjectId(), ...filter };
      applyUpdate(doc, update, true);
      this.docs.push(doc);
    } else {
      applyUpdate(doc, update, false);
    }
    return opts.returnDocument === "after" ? clone(doc) : before;
  }

  async updateOne(filter: Doc, update: Doc) {
    const doc = this.docs.find((d) => matches(d, filter));
    if (doc) applyUpdate(doc, update, false);
    return { matchedCount: doc ? 1 : 0, modifiedCount: doc ? 1 : 0 };
  }

  async findOneAndDelete(filter: Doc) {
    const i = this.docs.findIndex((d) => matches(d, filter));
    return i < 0 ? null : this.docs.splice(i, 1)[0];
  }

  async deleteOne(filter: Doc) {
    const i = this.docs.findIndex((d) => matches(d, filter));
    if (i >= 0) this.docs.splice(i, 1);
    return { deletedCount: i >= 0 ? 1 : 0 };
  }

  async createIndexes(specs: unknown[]) {
    this.indexes.push(...specs);
    return [];
  }
}

export class FakeDb {
  collections = new Map<string, FakeCollection>();
  /** When set, every command fails with it: a database that is down. */
  down: Error | null = null;

  collection(name: string): FakeCollection {
    if (!this.collections.has(name)) this.collections.set(name, new FakeCollection());
    return this.collections.get(name)!;
  }

  async command(cmd: Doc) {
    if (this.down) throw this.down;
    if ("ping" in cmd) return { ok: 1 };
    throw new Error(`fake db: unsupported command ${JSON.stringify(cmd)}`);
  }
}
