"""OpenTelemetry: traces and logs over OTLP/HTTP (protobuf) to OTEL_EXPORTER_OTLP_ENDPOINT.

Off when the variable is unset. Export failures are dropped by the SDK in the background:
an unreachable collector never breaks a request.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI

from app.config import Settings

log = logging.getLogger(__name__)


class _NotFromOpenTelemetry(logging.Filter):
    # The exporter logs its own failures; shipping those through itself would loop.
    def filter(self, record: logging.LogRecord) -> bool:
        return not record.name.startswith("opentelemetry")


def setup_telemetry(app: FastAPI, settings: Settings) -> object | None:
    """Instrument FastAPI and PyMongo. Call before the MongoClient is created."""
    if not settings.otel_endpoint:
        return None
    try:
        from opentelemetry import trace
        from opentelemetry._logs import set_logger_provider
        from opentelemetry.exporter.otlp.proto.http._log_exporter import OTLPLogExporter
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor
        from opentelemetry.instrumentation.pymongo import PymongoInstrumentor
        from opentelemetry.sdk._logs import LoggerProvider, LoggingHandler
        from opentelemetry.sdk._logs.export import BatchLogRecordProcessor
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        resource = Resource.create({"service.name": settings.otel_service_name})
        tracer_provider = TracerProvider(resource=resource)
        tracer_provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(timeout=5)))
        trace.set_tracer_provider(tracer_provider)

        logger_provider = LoggerProvider(resource=resource)
        logger_provider.add_log_record_processor(BatchLogRecordProcessor(OTLPLogExporter(timeout=5)))
        set_logger_provider(logger_provider)
        handler = LoggingHandler(level=logging.INFO, logger_provider=logger_provider)
        handler.addFilter(_NotFromOpenTelemetry())
        logging.getLogger().addHandler(handler)
        # While MGX is unreachable the exporter would warn about every retry; one error per
        # dropped batch is enough.
        logging.getLogger("opentelemetry.exporter.otlp").setLevel(logging.ERROR)

        FastAPIInstrumentor.instrument_app(app, tracer_provider=tracer_provider, excluded_urls="api/health")
        PymongoInstrumentor().instrument(tracer_provider=tracer_provider)
        return (tracer_provider, logger_provider)
    except Exception as err:  # noqa: BLE001 - telemetry must never stop the app
        log.warning("telemetry disabled: %s", err)
        return None
