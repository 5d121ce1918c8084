"""GET /metrics: the server's metrics in Prometheus's text format, for the networks allowed."""

from fastapi import APIRouter, HTTPException, Request, Response
from prometheus_client.exposition import choose_encoder

from app.server.deps import SettingsDep
from app.server.observe import exchange
from app.server.peers import in_networks

router = APIRouter(tags=["operations"])


@router.get("/metrics", response_class=Response, include_in_schema=False)
async def metrics(request: Request, settings: SettingsDep) -> Response:
    """Counts and durations only: no metric holds a program, a path or a token. Open to
    `metrics_networks` (loopback unless set), judged by the client address the access log
    names, so a proxy in `trusted_proxies` does not open it to the world."""
    record = exchange(request)
    client = record.client if record is not None else ""
    if not in_networks(client, settings.metrics_networks):
        raise HTTPException(403, "/metrics is open only to the networks in AGX_METRICS_NETWORKS")
    # The classic text format, or OpenMetrics when the scraper asks for it.
    encode, content_type = choose_encoder(request.headers.get("accept", ""))
    return Response(encode(request.app.state.metrics.registry), media_type=content_type)
