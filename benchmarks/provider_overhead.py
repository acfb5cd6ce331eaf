"""What does Triptych's provider path add per request, next to LiteLLM?

Both clients send the same ``POST /v1/images/generations`` (gpt-image-1, one 1024x1024
image) to the same local fake OpenAI-compatible upstream, which answers a canned
``{"created", "data":[{"b64_json"}]}`` with a real PNG. The upstream runs in its own process
so its work does not share the clients' interpreter. Rounds alternate between the clients
to spread machine noise evenly, and one run prints all rows side by side:

    raw httpx            POST + JSON parse: the floor any client pays
    litellm              litellm.image_generation (returns the base64 string, undecoded)
    litellm + decode     the same, plus the PNG decode Triptych always does (equal work)
    triptych             OpenAIEngine.generate(): retries policy, caps, b64 + PNG decode,
                         type/dimension checks, EngineResult

Run:  .venv/bin/python benchmarks/provider_overhead.py [--requests 40] [--image 1024]
"""

from __future__ import annotations

import argparse
import base64
import io
import json
import multiprocessing
import os
import socket
import statistics
import sys
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no network at import

KEY = "sk-bench-not-a-real-key"


def make_png(side: int) -> bytes:
    from PIL import Image

    # Noise compresses like a real photo would not: a worst-ish case for decode time.
    image = Image.frombytes("RGB", (side, side), os.urandom(side * side * 3))
    buf = io.BytesIO()
    image.save(buf, format="PNG", compress_level=1)
    return buf.getvalue()


def serve(port: int, side: int, ready: multiprocessing.Event) -> None:  # type: ignore[valid-type]
    body = json.dumps({"created": int(time.time()),
                       "data": [{"b64_json": base64.b64encode(make_png(side)).decode()}],
                       "usage": {"input_tokens": 10, "output_tokens": 4160,
                                 "total_tokens": 4170}}).encode()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            request = json.loads(self.rfile.read(length) or b"{}")
            ok = self.headers.get("authorization") == f"Bearer {KEY}" and request.get("prompt")
            payload = body if ok else b'{"error":{"message":"bad request","type":"x"}}'
            self.send_response(200 if ok else 400)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    ready.set()
    server.serve_forever()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=40, help="timed requests per client")
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--image", type=int, default=1024, help="side of the returned PNG")
    args = parser.parse_args()

    port = free_port()
    ready = multiprocessing.Event()
    upstream = multiprocessing.Process(target=serve, args=(port, args.image, ready),
                                       daemon=True)
    upstream.start()
    ready.wait(30)
    base = f"http://127.0.0.1:{port}"

    import httpx
    import litellm
    from PIL import Image

    from triptych.engines.base import GenerationRequest
    from triptych.engines.providers.openai import OpenAIEngine

    litellm.telemetry = False
    litellm.suppress_debug_info = True
    prompt = "a lighthouse on a cliff at dusk, oil painting"
    engine = OpenAIEngine(api_key=KEY, base_url=base, model="gpt-image-1")
    request = GenerationRequest(prompt=prompt, width=1024, height=1024, seed=0,
                                target="gpt-image-1")
    raw_client = httpx.Client(timeout=60)

    def raw() -> None:
        reply = raw_client.post(f"{base}/v1/images/generations",
                                headers={"authorization": f"Bearer {KEY}"},
                                json={"model": "gpt-image-1", "prompt": prompt, "n": 1,
                                      "size": "1024x1024"})
        assert reply.json()["data"][0]["b64_json"]

    def via_litellm() -> str:
        out = litellm.image_generation(model="openai/gpt-image-1", prompt=prompt, n=1,
                                       size="1024x1024", api_base=f"{base}/v1", api_key=KEY)
        data = out.data[0].b64_json
        assert data
        return data

    def via_litellm_decode() -> None:
        image = Image.open(io.BytesIO(base64.b64decode(via_litellm())))
        image.load()

    def via_triptych() -> None:
        result = engine.generate(request)
        assert result.images[0].image.size == (args.image, args.image)

    clients: dict[str, Callable[[], object]] = {
        "raw httpx": raw, "litellm": via_litellm, "litellm + decode": via_litellm_decode,
        "triptych": via_triptych,
    }
    for fn in clients.values():
        for _ in range(args.warmup):
            fn()
    times: dict[str, list[float]] = {name: [] for name in clients}
    for _ in range(args.requests):
        for name, fn in clients.items():  # interleaved, so drift hits all rows alike
            started = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - started)
    upstream.terminate()

    median = {name: statistics.median(t) * 1000 for name, t in times.items()}
    floor = median["raw httpx"]
    print(f"provider_overhead: {args.requests} requests per client, {args.image}x"
          f"{args.image} PNG ({len(make_png(args.image)) // 1024} KiB), "
          f"python {sys.version.split()[0]}, litellm {_version('litellm')}, "
          f"{os.cpu_count()} CPUs")
    print(f"{'client':<18}{'median ms':>11}{'p90 ms':>9}{'over raw ms':>13}")
    for name, t in times.items():
        p90 = statistics.quantiles(t, n=10)[-1] * 1000 if len(t) >= 10 else max(t) * 1000
        print(f"{name:<18}{median[name]:>11.2f}{p90:>9.2f}{median[name] - floor:>13.2f}")
    ratio = median["triptych"] / median["litellm"]
    fair = median["triptych"] / median["litellm + decode"]
    print(f"ratio triptych / litellm (median per request):          {ratio:.2f}")
    print(f"ratio triptych / (litellm + same decode):               {fair:.2f}")
    over_t = median["triptych"] - floor
    over_l = median["litellm + decode"] - floor
    if over_l > 0:
        print(f"ratio of overheads above raw httpx (triptych / litellm+decode): "
              f"{over_t / over_l:.2f}")


def _version(name: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(name)
    except PackageNotFoundError:
        return "?"


if __name__ == "__main__":
    main()
