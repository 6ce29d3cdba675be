import { logs, SeverityNumber, type AnyValueMap } from "@opentelemetry/api-logs";
import { APP_SLUG } from "@/lib/app";

type Level = "debug" | "info" | "warn" | "error";

const severity: Record<Level, SeverityNumber> = {
  debug: SeverityNumber.DEBUG,
  info: SeverityNumber.INFO,
  warn: SeverityNumber.WARN,
  error: SeverityNumber.ERROR,
};

function emit(level: Level, message: string, attrs: AnyValueMap = {}): void {
  // One JSON line on stdout for `docker logs` / MGX's log view…
  const line = JSON.stringify({ ts: new Date().toISOString(), level, msg: message, ...attrs });
  if (level === "error") console.error(line);
  else console.log(line);
  // …and the same record over OTLP when telemetry is on (a no-op otherwise).
  logs.getLogger(APP_SLUG).emit({
    severityNumber: severity[level],
    severityText: level.toUpperCase(),
    body: message,
    attributes: attrs,
  });
}

/** Structured logger: log.info("item created", { item_id }). Never log tokens or secrets. */
export const log = {
  debug: (message: string, attrs?: AnyValueMap) => emit("debug", message, attrs),
  info: (message: string, attrs?: AnyValueMap) => emit("info", message, attrs),
  warn: (message: string, attrs?: AnyValueMap) => emit("warn", message, attrs),
  error: (message: string, attrs?: AnyValueMap) => emit("error", message, attrs),
};
