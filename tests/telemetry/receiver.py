"""Small OTLP receivers on 127.0.0.1 (HTTP/protobuf, and gRPC with grpcio), decoded with opentelemetry-proto."""

from __future__ import annotations

import gzip
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import (
    ExportMetricsServiceRequest,
    ExportMetricsServiceResponse,
)
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue


def value_of(any_value: AnyValue) -> Any:
    """The Python value of an OTLP AnyValue."""
    kind = any_value.WhichOneof("value")
    return getattr(any_value, kind) if kind else None


def attributes(pairs: Any) -> dict[str, Any]:
    """An OTLP attribute list as a dict."""
    return {kv.key: value_of(kv.value) for kv in pairs}


class _Store:
    """What a receiver got: the export requests, in arrival order, and the queries the tests make of them."""

    def __init__(self) -> None:
        self.metrics: list[ExportMetricsServiceRequest] = []
        self.traces: list[ExportTraceServiceRequest] = []
        self.paths: list[str] = []
        self.content_types: set[str] = set()
        self._lock = threading.Lock()

    def spans(self) -> list[Any]:
        """Every span received so far."""
        with self._lock:
            return [s for r in self.traces for rs in r.resource_spans for ss in rs.scope_spans for s in ss.spans]

    def data_points(self, name: str) -> list[Any]:
        """The data points of metric `name` in the latest export that has it (temporality is cumulative)."""
        with self._lock:
            for request in reversed(self.metrics):
                out: list[Any] = []
                for rm in request.resource_metrics:
                    for sm in rm.scope_metrics:
                        for metric in sm.metrics:
                            if metric.name == name:
                                kind = metric.WhichOneof("data")
                                out.extend(getattr(metric, kind).data_points)
                if out:
                    return out
        return []

    def resource_attributes(self) -> list[dict[str, Any]]:
        """The resource attributes of every request received."""
        with self._lock:
            resources = [rm.resource for r in self.metrics for rm in r.resource_metrics]
            resources += [rs.resource for r in self.traces for rs in r.resource_spans]
        return [attributes(r.attributes) for r in resources]

    def wait_for(self, ready: Callable[[], bool], timeout: float = 15.0) -> None:
        """Poll `ready` every 0.05 s until it holds (bounded)."""
        deadline = time.monotonic() + timeout
        while not ready():
            assert time.monotonic() < deadline, f"the receiver never got there; paths: {self.paths}"
            time.sleep(0.05)


class Receiver(_Store):
    """Collects ExportMetricsServiceRequest and ExportTraceServiceRequest bodies POSTed to /v1/metrics, /v1/traces."""

    def __init__(self) -> None:
        super().__init__()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("content-length", "0")))
                if self.headers.get("content-encoding") == "gzip":
                    raw = gzip.decompress(raw)
                with receiver._lock:
                    receiver.paths.append(self.path)
                    receiver.content_types.add(self.headers.get("content-type", ""))
                    if self.path == "/v1/metrics":
                        request = ExportMetricsServiceRequest()
                        request.ParseFromString(raw)
                        receiver.metrics.append(request)
                        answer = ExportMetricsServiceResponse().SerializeToString()
                    elif self.path == "/v1/traces":
                        spans = ExportTraceServiceRequest()
                        spans.ParseFromString(raw)
                        receiver.traces.append(spans)
                        answer = ExportTraceServiceResponse().SerializeToString()
                    else:
                        self.send_response(404)
                        self.end_headers()
                        return
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Receiver:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self._thread.join(5)


class GrpcReceiver(_Store):
    """The same, as an OTLP/gRPC collector (TraceService and MetricsService Export) on 127.0.0.1, without TLS."""

    def __init__(self) -> None:
        super().__init__()
        from concurrent import futures

        import grpc
        from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2_grpc
        from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc

        receiver = self

        class Traces(trace_service_pb2_grpc.TraceServiceServicer):
            def Export(self, request: ExportTraceServiceRequest, context: Any) -> ExportTraceServiceResponse:
                with receiver._lock:
                    receiver.paths.append("TraceService/Export")
                    receiver.traces.append(request)
                return ExportTraceServiceResponse()

        class Metrics(metrics_service_pb2_grpc.MetricsServiceServicer):
            def Export(self, request: ExportMetricsServiceRequest, context: Any) -> ExportMetricsServiceResponse:
                with receiver._lock:
                    receiver.paths.append("MetricsService/Export")
                    receiver.metrics.append(request)
                return ExportMetricsServiceResponse()

        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
        trace_service_pb2_grpc.add_TraceServiceServicer_to_server(Traces(), self.server)
        metrics_service_pb2_grpc.add_MetricsServiceServicer_to_server(Metrics(), self.server)
        port = self.server.add_insecure_port("127.0.0.1:0")
        self.url = f"http://127.0.0.1:{port}"  # http://: the exporter speaks plaintext gRPC to it

    def __enter__(self) -> GrpcReceiver:
        self.server.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.stop(grace=2).wait(5)


def iter_points(points: list[Any]) -> Iterator[tuple[dict[str, Any], Any]]:
    """(attributes, point) for each data point."""
    for point in points:
        yield attributes(point.attributes), point


class BlackHole:
    """A collector that accepts TCP connections on 127.0.0.1 and never answers (nor closes them): a black-holing
    network path or a hung collector. `wait_connections(n)` waits (bounded) for n export attempts."""

    def __init__(self) -> None:
        import socket

        self.listener = socket.create_server(("127.0.0.1", 0), backlog=64)
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.held: list[Any] = []
        self._seen = threading.Condition()
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:  # closed by __exit__
                return
            with self._seen:
                self.held.append(conn)
                self._seen.notify_all()

    def wait_connections(self, count: int, timeout: float = 30.0) -> None:
        """Return once `count` connections were accepted; fail after `timeout` seconds."""
        with self._seen:
            assert self._seen.wait_for(lambda: len(self.held) >= count, timeout), f"{len(self.held)} connection(s)"

    def __enter__(self) -> BlackHole:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.listener.close()
        with self._seen:
            for conn in self.held:
                conn.close()
