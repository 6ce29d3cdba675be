import { OTLPLogExporter } from "@opentelemetry/exporter-logs-otlp-proto";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import { HttpInstrumentation } from "@opentelemetry/instrumentation-http";
import { MongoDBInstrumentation } from "@opentelemetry/instrumentation-mongodb";
import { BatchLogRecordProcessor } from "@opentelemetry/sdk-logs";
import { NodeSDK } from "@opentelemetry/sdk-node";
import { APP_SLUG } from "@/lib/app";

/**
 * startTelemetry ships traces and logs over OTLP/HTTP (protobuf) to
 * OTEL_EXPORTER_OTLP_ENDPOINT (".../v1/traces", ".../v1/logs"). Without that variable it does
 * nothing. Export failures are dropped by the SDK: an unreachable collector never breaks
 * the app.
 */
export function startTelemetry(env: Record<string, string | undefined> = process.env): NodeSDK | undefined {
  if (!env.OTEL_EXPORTER_OTLP_ENDPOINT) return undefined;
  try {
    const sdk = new NodeSDK({
      serviceName: env.OTEL_SERVICE_NAME || APP_SLUG,
      traceExporter: new OTLPTraceExporter(),
      logRecordProcessors: [new BatchLogRecordProcessor({ exporter: new OTLPLogExporter() })],
      instrumentations: [
        new HttpInstrumentation({
          // Static assets and dev-server chatter are noise, not requests worth a trace.
          ignoreIncomingRequestHook: (req) => /\/_next\/|\/favicon/.test(req.url ?? ""),
        }),
        new MongoDBInstrumentation({ enhancedDatabaseReporting: false }),
      ],
    });
    sdk.start();
    return sdk;
  } catch (err) {
    console.error(`telemetry: disabled: ${String(err)}`);
    return undefined;
  }
}
