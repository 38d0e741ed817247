"""The aiohttp baseline: the benchmark's handler behind an aiohttp web server (one process, asyncio's default event
loop, keep-alive).

    bench/out/venv-aiohttp/bin/python bench/bruco/aiohttp_server.py --port P --function bench/bruco/function
    (PYTHONPATH=python)

Each POST body goes through wallaroo._bruco.Handler -- the context, the handler call and Bruco's return rules that
Roo runs -- so only the server differs from Roo's. No access log."""
import argparse

from aiohttp import web

from wallaroo import _bruco


def make_app(handler):
    async def post(request):
        output = handler(await request.read())
        return web.Response(body=output.body or b"", status=output.status,
                            headers={"Content-Type": output.content_type})

    app = web.Application(client_max_size=1 << 20)
    app.router.add_post("/{tail:.*}", post)
    return app


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--function", required=True, help="the function's folder (handler.py)")
    opts = p.parse_args()
    handler = _bruco.Handler(opts.function, "handler", "initializer")
    web.run_app(make_app(handler), host="127.0.0.1", port=opts.port, access_log=None, print=None)


if __name__ == "__main__":
    main()
