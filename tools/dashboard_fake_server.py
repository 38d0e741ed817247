#!/usr/bin/env python3
"""A FAKE cluster for working on the dashboard's look without running Roo: serves dashboard/ at / and made-up
figures at /api/cluster in the shape of nlohmann::json(ClusterMetrics) (src/metrics/worker_metrics.cpp).

Nothing here is measured: the counts grow at fixed made-up rates and the histograms are drawn from a made-up
distribution. The real test is tests/e2e/test_dashboard.py, against real workers.

Usage: tools/dashboard_fake_server.py [PORT]     (default 8077; http://127.0.0.1:PORT/)
  GET /fake/fail     the next /api/cluster answers 503 until GET /fake/recover (to see the error banner)
  GET /fake/kill     worker1 goes missing (to see a missing worker)
"""
import http.server
import json
import math
import os
import random
import sys
import time

DASHBOARD = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "dashboard")
STARTED = time.time()
STEPS = [("decoder of source 'Alphabet'", "decoder", 3e3), ("key_by 'first_letter'", "key_by", 2e3),
         ("state computation 'add votes'", "state", 40e3), ("encoder of sink 'out'", "encoder", 5e3)]
PIPELINE = "Alphabet"
RATE = 25000.0  # made-up events per second per worker
state = {"fail": False, "killed": False}


def bucket_of(ns):
    ns = int(ns)
    if ns < 32:
        return ns
    power = ns.bit_length() - 1
    return 32 + (power - 5) * 16 + ((ns >> (power - 4)) & 15)


def fake_histogram(median_ns, count, seed):
    rng = random.Random(seed)
    buckets = {}
    values = sorted(median_ns * math.exp(rng.gauss(0, 0.8)) for _ in range(min(count, 4000)))
    for v in values:
        b = bucket_of(v)
        buckets[b] = buckets.get(b, 0) + 1
    n = len(values)
    pick = lambda q: int(values[min(n - 1, int(q * n))]) if n else 0  # noqa: E731
    return {"count": n, "sum_ns": int(sum(values)), "min_ns": int(values[0]) if n else 0,
            "max_ns": int(values[-1]) if n else 0, "p50_ns": pick(0.5), "p95_ns": pick(0.95), "p99_ns": pick(0.99),
            "p999_ns": pick(0.999), "p9999_ns": pick(0.9999), "buckets": sorted([b, c] for b, c in buckets.items())}


def fake_worker(name, index, now):
    up = now - STARTED
    events = int(RATE * up)
    histograms = []
    for step, kind, median in STEPS:
        labels = {"pipeline": PIPELINE, "step": step, "kind": kind}
        h = fake_histogram(median * (1 + index * 0.2), events // 64, hash((step, int(up), index)))
        histograms.append({"name": "roo_step_latency_seconds", "labels": labels, "events": events, "rate": RATE,
                           "all": h, "recent": h})
    end = fake_histogram(900e3, events // 64, int(up))
    histograms.append({"name": "roo_pipeline_latency_seconds", "labels": {"pipeline": PIPELINE},
                       "events": events, "rate": RATE, "all": end, "recent": end})
    histograms.append({"name": "roo_worker_latency_seconds", "labels": {"pipeline": PIPELINE},
                       "events": events, "rate": RATE, "all": end, "recent": end})
    checkpoints = int(up // 10)
    ck = fake_histogram(12e6, checkpoints, 7)
    histograms.append({"name": "roo_checkpoint_duration_seconds", "labels": {}, "events": checkpoints, "rate": 0.1,
                       "all": ck, "recent": ck})

    def value(name, labels, v, rate=0.0):
        return {"name": name, "labels": labels, "value": v, "rate": rate}
    values = [value("roo_events_total", {"pipeline": PIPELINE, "step": s, "kind": k}, events, RATE)
              for s, k, _ in STEPS]
    values += [value("roo_source_events_total", {"source": PIPELINE}, events, RATE),
               value("roo_sink_events_total", {"sink": "out"}, events, RATE),
               value("roo_step_failures_total", {"pipeline": PIPELINE, "step": STEPS[2][0]}, int(up // 7), 0.14),
               value("roo_lost_events_total", {}, 0),
               value("roo_executor_queue_batches", {}, 3 + index),
               value("roo_peer_queue_batches", {}, 1),
               value("roo_source_paused_seconds_total", {}, up * 0.01, 0.01),
               value("roo_sink_queue_bytes", {"sink": "out"}, 48000 + 1000 * index),
               value("roo_checkpoints_total", {}, checkpoints, 0.1),
               value("roo_checkpoint_last_id", {}, checkpoints),
               value("roo_checkpoint_last_bytes", {}, 1.5e6),
               value("roo_uptime_seconds", {}, up)]
    return {"worker": name, "time_ns": int(now // 2 * 2 * 1e9), "started_ns": int(STARTED * 1e9),
            "values": values, "histograms": histograms}


def fake_cluster():
    now = time.time()
    names = ["initializer"] if state["killed"] else ["initializer", "worker1"]
    workers = [fake_worker(name, i, now) for i, name in enumerate(names)]
    total = json.loads(json.dumps(workers[0]))
    total["worker"] = "cluster"
    for w in workers[1:]:
        for a, b in zip(total["histograms"], w["histograms"]):
            a["events"] += b["events"]
            a["rate"] += b["rate"]
        for a, b in zip(total["values"], w["values"]):
            a["value"] += b["value"]
            a["rate"] += b["rate"]
    return {"workers": workers, "missing": ["worker1"] if state["killed"] else [], "cluster": total}


class Handler(http.server.SimpleHTTPRequestHandler):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, directory=DASHBOARD, **kwargs)

    def do_GET(self):
        if self.path.startswith("/fake/"):
            action = self.path[len("/fake/"):]
            state["fail"] = {"fail": True, "recover": False}.get(action, state["fail"])
            state["killed"] = state["killed"] or action == "kill"
            return self.answer(200, b"fake: %s\n" % action.encode(), "text/plain")
        if self.path.startswith("/api/cluster"):
            if state["fail"]:
                return self.answer(503, b"fake failure\n", "text/plain")
            return self.answer(200, json.dumps(fake_cluster()).encode(), "application/json")
        return super().do_GET()

    def answer(self, status, body, content_type):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8077
    print("FAKE cluster figures: http://127.0.0.1:%d/" % port, file=sys.stderr)
    http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
