"""The standard-library baseline: the benchmark's handler behind http.server.ThreadingHTTPServer (HTTP/1.1, so
connections stay open; one thread per connection).

    /usr/bin/python3 bench/bruco/stdlib_server.py --port P --function bench/bruco/function  (PYTHONPATH=python)

Each POST body goes through wallaroo._bruco.Handler -- the context, the handler call and Bruco's return rules that
Roo runs -- so only the server differs from Roo's. Careful where the standard library is careless by default:
no access log, and the status line, headers and body leave in one write with Nagle off (two small writes on a
Nagle socket wait for the client's delayed ACK, ~40 ms a request)."""
import argparse
import http.server

from wallaroo import _bruco

MAX_BODY = 1 << 20


def make_request_handler(handler):
    class BrucoRequest(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            if not 0 <= length <= MAX_BODY:
                self.send_error(413)
                return
            output = handler(self.rfile.read(length))
            body = output.body or b""
            head = ("HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n"
                    % (output.status, "OK" if output.status == 200 else "Bad Request", output.content_type,
                       len(body))).encode("latin-1")
            self.wfile.write(head + body)

        def log_message(self, *args):
            pass

    return BrucoRequest


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--function", required=True, help="the function's folder (handler.py)")
    opts = p.parse_args()
    handler = _bruco.Handler(opts.function, "handler", "initializer")
    server = http.server.ThreadingHTTPServer(("127.0.0.1", opts.port), make_request_handler(handler))
    server.daemon_threads = True
    server.request_queue_size = 128
    server.serve_forever()


if __name__ == "__main__":
    main()
