"""The live dashboard (dashboard/, docs/metrics.md "The dashboard") in a real browser against a real cluster.

Two `roo run` workers of apps/dashboard_steps.py, each with --metrics-http, and a sender feeding both; Debian's
Chromium, headless, driven through chromedriver by Selenium, opens the initializer's page. The page must show the
pipeline's steps by name in order, figures equal to those of /api/cluster for the same sample, figures that grow,
and after worker1 is killed with SIGKILL it must go on updating and show worker1 missing; once the initializer is
gone too, an error banner over the last figures. Screenshots go to build/test-artifacts/.

The workers are two `roo run` processes (the `cluster` fixture) rather than one `roo run --workers 2`: that
supervisor stops every worker when one dies, and the point here is the page of a cluster that lost a worker.
"""
import json
import math
import os
import shutil
import tempfile
import threading
import time
import urllib.request

import pytest

from conftest import APPS, REPO, connect, frame, wait_until

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
APP = os.path.join(APPS, "dashboard_steps.py")
PIPELINE = "Numbers"
STEPS = ["decoder of source 'Numbers'", "computation 'double'", "computation 'as text'", "encoder of sink 'sink 0'"]
ARTIFACTS = os.path.join(REPO, "build", "test-artifacts")
POLL_PERIOD = 2.0  # the page's and the metrics thread's period

if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
    pytest.skip("the dashboard's browser test needs Debian's chromium and chromium-driver (%s, %s; tools/setup "
                "installs them)" % (CHROMIUM, CHROMEDRIVER), allow_module_level=True)

try:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
except ImportError:
    pytest.fail("the dashboard's browser test needs Selenium: apt-get install python3-selenium (tools/setup)",
                pytrace=False)


class Sender(object):
    """Sends numbered frames to every address at a steady pace until stopped (or a bounded time passes); an
    address whose worker is gone is dropped."""

    def __init__(self, addresses, per_tick=20, tick=0.02, limit_seconds=180.0):
        self.sockets = [connect(port, host) for host, port in addresses]
        self.per_tick, self.tick, self.limit = per_tick, tick, limit_seconds
        self.sent = 0
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()

    def run(self):
        deadline = time.monotonic() + self.limit
        while not self.stopping.is_set() and time.monotonic() < deadline and self.sockets:
            batch = b"".join(frame(str(self.sent + i).encode()) for i in range(self.per_tick))
            for s in list(self.sockets):
                try:
                    s.sendall(batch)
                except OSError:
                    self.sockets.remove(s)
                    s.close()
            self.sent += self.per_tick
            self.stopping.wait(self.tick)

    def stop(self):
        self.stopping.set()
        self.thread.join(5)
        for s in self.sockets:
            s.close()


@pytest.fixture
def browser(tmp_path):
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--user-data-dir=%s" % tempfile.mkdtemp(dir=str(tmp_path)), "--window-size=1400,1400"]:
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(20)
    yield driver
    driver.quit()


def get_json(url):
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read().decode("utf-8"))


def snapshot_key(answer):
    """What the page writes into body[data-snapshot] for an answer (app.js snapshotKey: the same double
    arithmetic, since JavaScript reads time_ns as the nearest double)."""
    return ",".join("%s:%d" % (w["worker"], math.floor(float(w["time_ns"]) / 1e6)) for w in answer["workers"])


def step_histograms(answer):
    return [h for h in answer["cluster"]["histograms"] if h["name"] == "roo_step_latency_seconds"
            and h["labels"]["pipeline"] == PIPELINE]


# The page redraws its panels at every answer, so an element found in one WebDriver call may be gone by the next:
# every read of redrawn parts is one script, which runs between two redraws (the page's JavaScript is one thread).
READ_DATASETS = """
return {snapshot: document.body.dataset.snapshot,
        items: Array.from(document.querySelectorAll(arguments[0])).map((e) => Object.assign({}, e.dataset))};
"""


def datasets(driver, selector):
    """(the page's sample key, [the data- attributes of each element `selector` finds]), read at one moment."""
    read = driver.execute_script(READ_DATASETS, selector)
    return read["snapshot"], read["items"]


def steps_shown(driver):
    """(sample key, [(data-step, events, rate, p99 ns)] of the pipeline's step boxes, in the page's order)."""
    snapshot, boxes = datasets(driver, '.pipeline[data-pipeline="%s"] .step' % PIPELINE)
    return snapshot, [(b["step"], int(b["events"]), float(b["rate"]), int(b["p99Ns"])) for b in boxes]


def bins_shown(driver):
    """(sample key, {bin label: count} of the latency-by-bin chart)."""
    snapshot, bins = datasets(driver, "#latency-bins .bin")
    return snapshot, dict((b["bin"], int(b["count"])) for b in bins)


def body(driver, attribute):
    return driver.find_element(By.TAG_NAME, "body").get_attribute(attribute)


def bucket_lower(index):
    """LatencyHistogram::lower_bound, written again from its definition."""
    if index < 32:
        return index
    power, sub = ((index - 32) >> 4) + 5, (index - 32) & 15
    return (16 + sub) << (power - 4)


def expected_bins(histogram):
    """Wallaroo's display bins of a histogram: events below 2^10, 2^12, ... 2^30 ns, and the rest."""
    labels = ["≤ 1 µs", "≤ 4 µs", "≤ 16 µs", "≤ 66 µs", "≤ 260 µs", "≤ 1 ms", "≤ 4 ms", "≤ 16 ms", "≤ 66 ms",
              "≤ 260 ms", "≤ 1 s", "> 1 s"]
    counts = [0] * len(labels)
    for index, count in histogram["buckets"]:
        upper = bucket_lower(index + 1)
        counts[next((k for k in range(11) if upper <= 2 ** (10 + 2 * k)), 11)] += count
    return dict(zip(labels, counts))


def same_sample(driver, url, read=steps_shown, timeout=4 * POLL_PERIOD):
    """An /api/cluster answer and what `read` reads of the page, for the same sample of every worker."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = get_json(url)
        snapshot, shown = read(driver)
        if snapshot == snapshot_key(answer):
            return answer, shown
        time.sleep(0.2)
    pytest.fail("the page never showed the sample /api/cluster answered within %.0f s (page %r, api %r)"
                % (timeout, body(driver, "data-snapshot"), snapshot_key(get_json(url))), pytrace=False)


def click(driver, selector, timeout=5.0):
    """A real click on the element `selector` finds, again if a redraw replaced it in between."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            driver.find_element(By.CSS_SELECTOR, selector).click()
            return
        except StaleElementReferenceException:
            if time.monotonic() > deadline:
                raise


def full_page_screenshot(driver, name):
    os.makedirs(ARTIFACTS, exist_ok=True)
    for _ in range(3):  # the window's size includes what is not the page: grow it until the page fits
        missing = driver.execute_script("return document.documentElement.scrollHeight - window.innerHeight")
        if missing <= 0:
            break
        driver.set_window_size(1400, driver.get_window_size()["height"] + missing)
    path = os.path.join(ARTIFACTS, name)
    assert driver.save_screenshot(path), "no screenshot saved at %s" % path
    return path


def start_cluster(cluster, out):
    """Two workers, each with its own --metrics-http port; returns (cluster, the initializer's page URL)."""
    c = cluster(APP, 2, out.address, sources=[PIPELINE], order=[], ready=False)
    c.check_exit = False  # the survivor of a lost worker exits 1 (test_cluster_faults.py)
    http_ports = c.start_with_metrics_http()
    return c, "http://127.0.0.1:%d/" % http_ports[0]


def test_the_dashboard_shows_the_cluster_live_and_survives_a_lost_worker(cluster, receiver, browser):
    out = receiver()
    c, page = start_cluster(cluster, out)
    api = page + "api/cluster"
    sender = Sender(c.in_addresses(PIPELINE))
    try:
        assert out.wait_for(lambda r: len(r.lines()) >= 100, timeout=15), c.logs()
        # a sample of both workers with every step's rate known (a worker's first sample is from before its steps)
        def rates_known():
            answer = get_json(api)
            steps = step_histograms(answer)
            return len(answer["workers"]) == 2 and len(steps) == len(STEPS) and all(h["rate"] > 0 for h in steps)
        assert wait_until(rates_known, 15, 0.5), get_json(api)

        browser.get(page)
        assert browser.title == "Roo dashboard"
        assert wait_until(lambda: int(body(browser, "data-polls")) >= 1, 10, 0.1), "the page never polled"

        # Every step of the pipeline, by name, in order; every figure the page shows is the API's for its sample.
        answer, shown = same_sample(browser, api)
        expected = [(h["labels"]["step"], h["events"], h["rate"], h["recent"]["p99_ns"] if h["recent"]["count"]
                     else h["all"]["p99_ns"]) for h in step_histograms(answer)]
        assert [step for step, _, _, _ in shown] == STEPS
        assert shown == expected
        assert all(events > 0 for _, events, _, _ in shown), shown
        total = browser.find_element(By.ID, "throughput-total")
        assert float(total.get_attribute("data-value")) == expected[0][2]
        workers = browser.find_element(By.ID, "workers-count")
        assert (workers.get_attribute("data-live"), workers.get_attribute("data-missing")) == ("2", "0")
        _, chips = datasets(browser, "#worker-chips .chip")
        assert chips == [{"worker": "initializer", "state": "live"}, {"worker": "worker1", "state": "live"}]
        _, rows = datasets(browser, "#latency-table tbody tr")
        assert [r.get("step") for r in rows] == [None] + STEPS  # start to end, then each step
        assert not browser.find_element(By.ID, "poll-error").is_displayed()
        assert browser.find_elements(By.CSS_SELECTOR, "#throughput-chart canvas"), "no throughput chart"
        # Latency by bin: the pipeline's start-to-end by default, from the buckets of the last 5 minutes.
        assert browser.find_element(By.ID, "latency-bins").get_attribute("data-pipeline") == PIPELINE
        answer, bins = same_sample(browser, api, bins_shown)
        start_to_end = [h for h in answer["cluster"]["histograms"] if h["name"] == "roo_pipeline_latency_seconds"]
        assert len(start_to_end) == 1 and start_to_end[0]["recent"]["count"] > 0, start_to_end
        assert bins == expected_bins(start_to_end[0]["recent"])
        assert sum(bins.values()) == start_to_end[0]["recent"]["count"]
        # a click on a step's box shows that step's bins instead
        click(browser, '.step[data-step="%s"]' % STEPS[1])
        assert browser.find_element(By.ID, "latency-bins").get_attribute("data-step") == STEPS[1]
        answer, bins = same_sample(browser, api, bins_shown)
        double = [h for h in step_histograms(answer) if h["labels"]["step"] == STEPS[1]]
        assert bins == expected_bins(double[0]["recent"])

        # The figures grow: a later reading of the decoder's event count is larger.
        first = shown[0][1]
        assert wait_until(lambda: steps_shown(browser)[1][0][1] > first, 4 * POLL_PERIOD, 0.2), \
            "the page's count stayed at %d" % first
        time.sleep(3 * POLL_PERIOD)  # some throughput history for the picture
        full_page_screenshot(browser, "dashboard.png")

        # worker1 dies: the page goes on updating from the initializer and shows worker1 missing.
        c[1].worker.kill()
        missing = '#worker-chips .chip[data-worker="worker1"][data-state="missing"]'
        assert wait_until(lambda: datasets(browser, missing)[1], 30, 0.2), \
            "worker1 never shown missing; api: %s\n%s" % (get_json(api)["missing"], c.logs())
        _, rows = datasets(browser, "#workers-table tbody tr")
        assert [(r["worker"], r["state"]) for r in rows] == [("initializer", "live"), ("worker1", "missing")]
        assert browser.find_element(By.ID, "missing-banner").is_displayed()
        answer, shown = same_sample(browser, api)
        assert answer["missing"] == ["worker1"] and [w["worker"] for w in answer["workers"]] == ["initializer"]
        polls, count = int(body(browser, "data-polls")), shown[0][1]
        assert wait_until(lambda: int(body(browser, "data-polls")) >= polls + 2 and
                          steps_shown(browser)[1][0][1] > count,
                          6 * POLL_PERIOD, 0.2), "the page stopped updating after worker1 died"
        assert not browser.find_element(By.ID, "poll-error").is_displayed()
        full_page_screenshot(browser, "dashboard-worker-missing.png")

        # The initializer dies too: an error banner over the last figures, not a blank page.
        c[0].worker.kill()
        banner = browser.find_element(By.ID, "poll-error")
        assert wait_until(banner.is_displayed, 4 * POLL_PERIOD, 0.2), "no error banner once nothing answers"
        assert banner.text.startswith("No answer from api/cluster since "), banner.text
        assert [step for step, _, _, _ in steps_shown(browser)[1]] == STEPS  # the last figures stay
        full_page_screenshot(browser, "dashboard-no-answer.png")
    finally:
        sender.stop()


def test_the_dashboard_files_are_served_as_shipped(cluster, receiver):
    """The server serves dashboard/ byte for byte (no build step), uPlot included."""
    out = receiver()
    c, page = start_cluster(cluster, out)
    for name in ["index.html", "app.js", "style.css", "vendor/uPlot.iife.min.js", "vendor/uPlot.min.css"]:
        with urllib.request.urlopen(page + name, timeout=10) as response:
            served = response.read()
        with open(os.path.join(REPO, "dashboard", name), "rb") as f:
            assert served == f.read(), name
    with urllib.request.urlopen(page, timeout=10) as response:
        with open(os.path.join(REPO, "dashboard", "index.html"), "rb") as f:
            assert response.read() == f.read(), "/ is not index.html"
    c.stop(via=0, expect=None)


def copy_screenshot_to_docs():
    """Not a test: `python3 tests/e2e/test_dashboard.py` copies the last run's picture into docs/images/."""
    source = os.path.join(ARTIFACTS, "dashboard.png")
    target = os.path.join(REPO, "docs", "images", "dashboard.png")
    os.makedirs(os.path.dirname(target), exist_ok=True)
    shutil.copyfile(source, target)
    print("copied %s to %s" % (source, target))


if __name__ == "__main__":
    copy_screenshot_to_docs()
