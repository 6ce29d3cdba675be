// Production server for the built frontend (dist/): static files under BASE_PATH with an
// index.html fallback for client-side routes. Node built-ins only. MGX's gateway sends
// BASE_PATH/api/* to the backend, everything else here.
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { createServer } from "node:http";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".jpg": "image/jpeg",
  ".jpeg": "image/jpeg",
  ".gif": "image/gif",
  ".webp": "image/webp",
  ".ico": "image/x-icon",
  ".woff2": "font/woff2",
  ".woff": "font/woff",
  ".txt": "text/plain; charset=utf-8",
  ".webmanifest": "application/manifest+json",
  ".map": "application/json",
};

async function fileAt(file) {
  try {
    const s = await stat(file);
    return s.isFile() ? s : null;
  } catch {
    return null;
  }
}

/**
 * createStaticServer serves root (the dist folder) at basePath ("" or "/apps/<slug>").
 * Hashed files under assets/ are cached for a year; everything else is revalidated.
 */
export function createStaticServer({ root, basePath = "" }) {
  const dir = path.resolve(root);
  return createServer(async (req, res) => {
    const send = (status, body, headers = {}) => {
      res.writeHead(status, { "content-type": "text/plain; charset=utf-8", ...headers });
      res.end(req.method === "HEAD" ? undefined : body);
    };
    res.setHeader("x-content-type-options", "nosniff");
    res.setHeader("referrer-policy", "same-origin");
    if (req.method !== "GET" && req.method !== "HEAD") return send(405, "method not allowed", { allow: "GET, HEAD" });

    const { pathname } = new URL(req.url ?? "/", "http://localhost");
    if (basePath && pathname === basePath) return send(308, "", { location: `${basePath}/` });
    if (basePath && !pathname.startsWith(`${basePath}/`)) return send(404, "not found");
    let rel;
    try {
      rel = decodeURIComponent(pathname.slice(basePath.length));
    } catch {
      return send(400, "bad request");
    }
    const file = path.join(dir, path.normalize(rel));
    if (rel.includes("\0") || (file !== dir && !file.startsWith(dir + path.sep))) return send(404, "not found");

    let target = file;
    let stats = await fileAt(file);
    if (!stats) {
      // Client-side routes ("/items") get the app; missing files with an extension do not.
      if (path.extname(rel) !== "" && !rel.endsWith("/")) return send(404, "not found");
      target = path.join(dir, "index.html");
      stats = await fileAt(target);
      if (!stats) return send(404, "not found");
    }
    const immutable = target.startsWith(path.join(dir, "assets") + path.sep);
    res.writeHead(200, {
      "content-type": TYPES[path.extname(target).toLowerCase()] ?? "application/octet-stream",
      "content-length": stats.size,
      "cache-control": immutable ? "public, max-age=31536000, immutable" : "no-cache",
    });
    if (req.method === "HEAD") return res.end();
    createReadStream(target).pipe(res);
  });
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const basePath = (process.env.BASE_PATH ?? "").replace(/\/+$/, "");
  if (basePath && !basePath.startsWith("/")) {
    console.error(`config: BASE_PATH must start with "/" (got ${JSON.stringify(basePath)})`);
    process.exit(1);
  }
  const port = Number(process.env.PORT ?? 8080);
  const root = path.join(path.dirname(fileURLToPath(import.meta.url)), "dist");
  createStaticServer({ root, basePath }).listen(port, "0.0.0.0", () => {
    console.log(JSON.stringify({ level: "info", msg: "serving", port, base_path: basePath || "/" }));
  });
  process.on("SIGTERM", () => process.exit(0));
}
