// `output: "standalone"` leaves static assets out of .next/standalone; copy them in so
// `node .next/standalone/server.js` serves a complete app (the Dockerfile does the same).
import { cpSync, existsSync } from "node:fs";

cpSync(".next/static", ".next/standalone/.next/static", { recursive: true });
if (existsSync("public")) cpSync("public", ".next/standalone/public", { recursive: true });
