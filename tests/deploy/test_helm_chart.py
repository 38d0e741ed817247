"""The Kubernetes chart (deploy/helm/roo; docs/kubernetes.md): `helm lint`, `helm template` for several value sets
with their key fields asserted, every rendered manifest validated against Kubernetes' schemas (kubernetes-validate),
the messages for missing values, the committed plain manifests (deploy/kubernetes/roo.yaml) against a fresh render,
and the worker command line the chart renders, run as two local workers on the loopback, probed as the kubelet would.

The tools come from tools/helm/install (build/tools/helm, build/tools/venv). Without them the tests are skipped,
saying so, except in CI (CI=true), where a missing tool fails.
"""
import json
import os
import pathlib
import re
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request

import pytest
import yaml

REPO = pathlib.Path(__file__).resolve().parents[2]
CHART = REPO / "deploy" / "helm" / "roo"
PLAIN = REPO / "deploy" / "kubernetes" / "roo.yaml"
TOOLS = pathlib.Path(os.environ.get("ROO_TOOLS", REPO / "build" / "tools"))
HELM = pathlib.Path(os.environ.get("ROO_HELM", TOOLS / "helm"))
VALIDATE = TOOLS / "venv" / "bin" / "kubernetes-validate"
# The Kubernetes version whose schemas the manifests must satisfy (one that kubernetes-validate 1.37.0 bundles).
KUBERNETES_VERSION = "1.33.0"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def need(tool):
    if not tool.exists():
        message = f"{tool} not found: run tools/helm/install"
        if IN_CI:
            pytest.fail(message + " (CI must run these tests)")
        pytest.skip(message)


def helm(*args, check=True):
    need(HELM)
    result = subprocess.run([str(HELM), *args], capture_output=True, text=True, timeout=60)
    if check and result.returncode != 0:
        pytest.fail(f"helm {' '.join(args)} failed ({result.returncode}):\n{result.stderr}")
    return result


def render(*set_args, release="roo"):
    """The chart rendered with `--set`-style arguments, as the text and as {(kind, name): object}."""
    args = ["template", release, str(CHART)]
    for item in set_args:
        args += ["--set", item] if not item.startswith("-") else [item]
    text = helm(*args).stdout
    objects = {}
    for document in yaml.safe_load_all(text):
        if document:
            objects[(document["kind"], document["metadata"]["name"])] = document
    return text, objects


def validate(text, tmp_path):
    """Every manifest in `text` satisfies the Kubernetes schemas (strict: no unknown fields)."""
    need(VALIDATE)
    path = tmp_path / "rendered.yaml"
    path.write_text(text)
    result = subprocess.run([str(VALIDATE), "--strict", "--kubernetes-version", KUBERNETES_VERSION, str(path)],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, f"kubernetes-validate:\n{result.stdout}\n{result.stderr}"


def container(objects, name="roo"):
    return objects[("StatefulSet", name)]["spec"]["template"]["spec"]["containers"][0]


def script_and_run_args(objects, name="roo"):
    """The shell script and `roo run`'s arguments (after $0) of the worker container."""
    args = container(objects, name)["args"]
    assert container(objects, name)["command"] == ["/bin/sh", "-c"]
    assert args[1] == "roo-worker"
    return args[0], args[2:]


def env_of(objects, name="roo"):
    return {entry["name"]: entry for entry in container(objects, name)["env"]}


def mounts_of(objects, name="roo"):
    return {mount["name"]: mount["mountPath"] for mount in container(objects, name)["volumeMounts"]}


def pod_annotations(objects, name="roo"):
    return objects[("StatefulSet", name)]["spec"]["template"]["metadata"].get("annotations", {})


PROMETHEUS = {"prometheus.io/scrape": "true", "prometheus.io/port": "9100", "prometheus.io/path": "/metrics"}
HEALTHZ = {"httpGet": {"path": "/healthz", "port": "metrics"}}


def test_lint():
    result = helm("lint", "--strict", str(CHART))
    assert "1 chart(s) linted, 0 chart(s) failed" in result.stdout


def test_defaults(tmp_path):
    text, objects = render()
    validate(text, tmp_path)
    assert sorted(objects) == [("NetworkPolicy", "roo"), ("Service", "roo"), ("Service", "roo-cluster"),
                               ("StatefulSet", "roo")]
    statefulset = objects[("StatefulSet", "roo")]["spec"]
    assert statefulset["replicas"] == 2
    assert statefulset["serviceName"] == "roo-cluster"
    assert statefulset["podManagementPolicy"] == "Parallel"
    assert statefulset["updateStrategy"] == {"type": "OnDelete"}
    assert "volumeClaimTemplates" not in statefulset
    worker = container(objects)
    assert worker["image"] == "roo:0.1.0"
    script, run_args = script_and_run_args(objects)
    # --metrics-http is one of roo run's flags: before the app, whose own flags follow it.
    assert run_args == ["--log-level", "info", "--drain-timeout", "10", "--metrics-http", "$(ROO_LISTEN_HOST):9100",
                        "/usr/share/roo/examples/alphabet/alphabet.py",
                        "--in", "Alphabet@$(ROO_LISTEN_HOST):7010", "--out", "roo-receiver:7002",
                        "--external", "$(ROO_LISTEN_HOST):5050"]
    # Pod 0 leads, the others join it under their pod names, each on its own DNS name.
    words = " ".join(script.replace("\\\n", " ").split())
    assert ('*-0) exec roo run "$@" --cluster-initializer --worker-count 2 '
            '--control "$ROO_SELF:6000" --data "$ROO_SELF:6001" ;;') in words
    assert ('*) exec roo run "$@" --name "$POD_NAME" --join "$ROO_INITIALIZER" '
            '--my-control "$ROO_SELF:6000" --my-data "$ROO_SELF:6001" ;;') in words
    # A pod going away asks to leave the cluster first (scaling.shrinkOnStop); pod 0 does not.
    pre_stop = worker["lifecycle"]["preStop"]["exec"]["command"]
    assert pre_stop[:2] == ["/bin/sh", "-c"]
    assert 'case "$POD_NAME" in *-0) exit 0 ;; esac' in pre_stop[2]
    assert ('roo ctl shrink --external "$external" --workers "$POD_NAME" --timeout 5 2>&1' in pre_stop[2])
    env = env_of(objects)
    assert env["POD_NAME"]["valueFrom"] == {"fieldRef": {"fieldPath": "metadata.name"}}
    assert env["ROO_SELF"]["value"] == "$(POD_NAME).roo-cluster.$(POD_NAMESPACE).svc.cluster.local"
    assert env["ROO_INITIALIZER"]["value"] == "roo-0.roo-cluster.$(POD_NAMESPACE).svc.cluster.local:6000"
    assert env["ROO_LISTEN_HOST"]["value"] == "0.0.0.0"
    assert "ROO_CLUSTER_SECRET_FILE" not in env and "ROO_EXTERNAL_SECRET_FILE" not in env
    assert mounts_of(objects) == {"tmp": "/tmp"}
    # Probes: ready from a cluster-status-query on the external channel; started and alive while the metrics
    # thread answers /healthz.
    readiness = worker["readinessProbe"]["exec"]["command"]
    assert readiness[:2] == ["/bin/sh", "-c"]
    assert ("roo ctl --external 127.0.0.1:5050 --type cluster-status-query --roo-details --json --timeout 3)"
            in readiness[2])
    assert worker["startupProbe"] == {**HEALTHZ, "periodSeconds": 2, "timeoutSeconds": 2, "failureThreshold": 60}
    assert worker["livenessProbe"] == {**HEALTHZ, "periodSeconds": 10, "timeoutSeconds": 3, "failureThreshold": 3}
    assert worker["resources"]["requests"] == {"cpu": "500m", "memory": "512Mi"}
    assert {p["name"]: p["containerPort"] for p in worker["ports"]} == {
        "control": 6000, "data": 6001, "external": 5050, "metrics": 9100, "source-0": 7010}
    assert pod_annotations(objects) == PROMETHEUS
    # The `roo` Service: sources and the external channel; the headless one: control, data and metrics, published
    # unready (every worker is a scrape target, ready or not).
    service = objects[("Service", "roo")]["spec"]
    assert [(p["name"], p["port"]) for p in service["ports"]] == [("external", 5050), ("source-0", 7010)]
    cluster = objects[("Service", "roo-cluster")]["spec"]
    assert cluster["clusterIP"] == "None" and cluster["publishNotReadyAddresses"] is True
    assert [(p["name"], p["port"], p["targetPort"]) for p in cluster["ports"]] == [
        ("control", 6000, "control"), ("data", 6001, "data"), ("metrics", 9100, "metrics")]
    # Only the release's pods reach control and data; anyone the network allows reaches the rest.
    policy = objects[("NetworkPolicy", "roo")]["spec"]["ingress"]
    assert [p["port"] for p in policy[0]["ports"]] == [6000, 6001] and "from" in policy[0]
    assert [p["port"] for p in policy[1]["ports"]] == [5050, 9100, 7010] and "from" not in policy[1]


@pytest.mark.parametrize("off", ["ports.metrics=0", "ports.metrics=null"])
def test_metrics_off(tmp_path, off):
    text, objects = render(off)
    validate(text, tmp_path)
    worker = container(objects)
    _, run_args = script_and_run_args(objects)
    assert "--metrics-http" not in run_args
    assert run_args[4] == "/usr/share/roo/examples/alphabet/alphabet.py"
    assert [p["name"] for p in worker["ports"]] == ["control", "data", "external", "source-0"]
    assert pod_annotations(objects) == {}
    # The probes fall back to TCP connections to the external port.
    assert worker["startupProbe"]["tcpSocket"] == {"port": "external"} and "httpGet" not in worker["startupProbe"]
    assert worker["livenessProbe"]["tcpSocket"] == {"port": "external"} and "httpGet" not in worker["livenessProbe"]
    assert [p["name"] for p in objects[("Service", "roo-cluster")]["spec"]["ports"]] == ["control", "data"]
    policy = objects[("NetworkPolicy", "roo")]["spec"]["ingress"]
    assert [p["port"] for p in policy[1]["ports"]] == [5050, 7010]


def test_metrics_port_and_pod_annotations_merged(tmp_path):
    """The user's podAnnotations go over the chart's: prometheus.io/scrape "false" keeps the endpoint unscraped."""
    text, objects = render("ports.metrics=9200", "--set-string=podAnnotations.prometheus\\.io/scrape=false",
                           "podAnnotations.team=streams", "probes.startup.failureThreshold=90")
    validate(text, tmp_path)
    assert pod_annotations(objects) == {"prometheus.io/scrape": "false", "prometheus.io/port": "9200",
                                        "prometheus.io/path": "/metrics", "team": "streams"}
    worker = container(objects)
    _, run_args = script_and_run_args(objects)
    assert run_args[4:6] == ["--metrics-http", "$(ROO_LISTEN_HOST):9200"]
    assert {p["name"]: p["containerPort"] for p in worker["ports"]}["metrics"] == 9200
    assert worker["startupProbe"]["failureThreshold"] == 90
    assert objects[("Service", "roo-cluster")]["spec"]["ports"][2] == {"name": "metrics", "port": 9200,
                                                                       "targetPort": "metrics"}
    assert [p["port"] for p in objects[("NetworkPolicy", "roo")]["spec"]["ingress"][1]["ports"]] == [5050, 9200, 7010]


def test_three_workers_two_sources_and_another_release(tmp_path):
    text, objects = render("replicas=3", "app.sources[0].name=Votes", "app.sources[0].port=7100",
                           "app.sources[1].name=Other", "app.sources[1].port=7200", "image.repository=example/roo",
                           "image.tag=0.1.1", release="prod")
    validate(text, tmp_path)
    assert objects[("StatefulSet", "prod-roo")]["spec"]["replicas"] == 3
    script, run_args = script_and_run_args(objects, "prod-roo")
    assert "--cluster-initializer --worker-count 3" in script
    assert run_args[run_args.index("--in") + 1] == "Votes@$(ROO_LISTEN_HOST):7100,Other@$(ROO_LISTEN_HOST):7200"
    assert container(objects, "prod-roo")["image"] == "example/roo:0.1.1"
    env = env_of(objects, "prod-roo")
    assert env["ROO_INITIALIZER"]["value"] == "prod-roo-0.prod-roo-cluster.$(POD_NAMESPACE).svc.cluster.local:6000"
    ports = objects[("Service", "prod-roo")]["spec"]["ports"]
    assert [(p["name"], p["port"]) for p in ports] == [("external", 5050), ("source-0", 7100), ("source-1", 7200)]


def test_resilience_with_a_volume_per_pod(tmp_path):
    text, objects = render("resilience.enabled=true", "resilience.interval=500ms", "resilience.storage.size=5Gi",
                           "resilience.storage.storageClassName=fast")
    validate(text, tmp_path)
    statefulset = objects[("StatefulSet", "roo")]["spec"]
    _, run_args = script_and_run_args(objects)
    assert run_args[:10] == ["--log-level", "info", "--drain-timeout", "10", "--checkpoint-dir", "/var/lib/roo",
                             "--checkpoint-interval", "500ms", "--metrics-http", "$(ROO_LISTEN_HOST):9100"]
    assert mounts_of(objects)["checkpoints"] == "/var/lib/roo"
    [claim] = statefulset["volumeClaimTemplates"]
    assert claim["metadata"]["name"] == "checkpoints"
    assert claim["spec"]["accessModes"] == ["ReadWriteOnce"]
    assert claim["spec"]["storageClassName"] == "fast"
    assert claim["spec"]["resources"]["requests"]["storage"] == "5Gi"


def test_secrets_from_values_and_tls(tmp_path):
    text, objects = render("security.clusterSecret.value=s3cret", "security.externalSecret.value=ext",
                           "security.tls.enabled=true", "security.tls.secretName=roo-tls")
    validate(text, tmp_path)
    secret = objects[("Secret", "roo-secrets")]
    assert secret["data"] == {"clusterSecret": "czNjcmV0", "externalSecret": "ZXh0"}
    env = env_of(objects)
    assert env["ROO_CLUSTER_SECRET_FILE"]["value"] == "/etc/roo/cluster-secret/clusterSecret"
    assert env["ROO_EXTERNAL_SECRET_FILE"]["value"] == "/etc/roo/external-secret/externalSecret"
    assert mounts_of(objects) == {"tmp": "/tmp", "cluster-secret": "/etc/roo/cluster-secret",
                                  "external-secret": "/etc/roo/external-secret", "tls": "/etc/roo/tls"}
    volumes = {v["name"]: v for v in objects[("StatefulSet", "roo")]["spec"]["template"]["spec"]["volumes"]}
    assert volumes["cluster-secret"]["secret"]["secretName"] == "roo-secrets"
    assert volumes["tls"]["secret"]["secretName"] == "roo-tls"
    assert [item["key"] for item in volumes["tls"]["secret"]["items"]] == ["tls.crt", "tls.key", "ca.crt"]
    tls = ["--tls-cert", "/etc/roo/tls/tls.crt", "--tls-key", "/etc/roo/tls/tls.key", "--tls-ca", "/etc/roo/tls/ca.crt"]
    _, run_args = script_and_run_args(objects)
    assert run_args[-6:] == tls
    assert " ".join(tls) in container(objects)["readinessProbe"]["exec"]["command"][2]
    # The metrics endpoint is plain HTTP under TLS too: the HTTP probes stay as they are.
    assert container(objects)["livenessProbe"]["httpGet"] == HEALTHZ["httpGet"]
    annotations = objects[("StatefulSet", "roo")]["spec"]["template"]["metadata"]["annotations"]
    assert "checksum/secrets" in annotations


def test_secrets_from_existing_secrets(tmp_path):
    text, objects = render("security.clusterSecret.existingSecret=mine", "security.externalSecret.existingSecret=ours",
                           "security.externalSecret.key=token")
    validate(text, tmp_path)
    assert ("Secret", "roo-secrets") not in objects
    env = env_of(objects)
    assert env["ROO_CLUSTER_SECRET_FILE"]["value"] == "/etc/roo/cluster-secret/cluster-secret"
    assert env["ROO_EXTERNAL_SECRET_FILE"]["value"] == "/etc/roo/external-secret/token"
    volumes = {v["name"]: v for v in objects[("StatefulSet", "roo")]["spec"]["template"]["spec"]["volumes"]}
    assert volumes["external-secret"]["secret"] == {"secretName": "ours", "defaultMode": 0o440,
                                                    "items": [{"key": "token", "path": "token"}]}


def test_app_from_files_in_a_configmap(tmp_path):
    app = tmp_path / "app.py"
    app.write_text("import wallaroo\n")
    text, objects = render("app.run=/app/app.py", f"--set-file=app.files.app\\.py={app}")
    validate(text, tmp_path)
    assert objects[("ConfigMap", "roo-app")]["data"] == {"app.py": "import wallaroo\n"}
    assert mounts_of(objects)["app"] == "/app"
    volumes = {v["name"]: v for v in objects[("StatefulSet", "roo")]["spec"]["template"]["spec"]["volumes"]}
    assert volumes["app"]["configMap"] == {"name": "roo-app"}
    _, run_args = script_and_run_args(objects)
    assert run_args[6] == "/app/app.py"
    assert "checksum/app" in objects[("StatefulSet", "roo")]["spec"]["template"]["metadata"]["annotations"]


def test_app_from_an_existing_configmap(tmp_path):
    text, objects = render("app.run=/app/votes.py", "app.configMap=my-app")
    validate(text, tmp_path)
    assert not any(kind == "ConfigMap" for kind, _ in objects)
    volumes = {v["name"]: v for v in objects[("StatefulSet", "roo")]["spec"]["template"]["spec"]["volumes"]}
    assert volumes["app"]["configMap"] == {"name": "my-app"}


def test_app_from_a_custom_image(tmp_path):
    text, objects = render("image.repository=registry.example/votes", "--set-string=image.tag=2", "app.run=votes",
                           "--set-string=app.args={--out,sink:7002,--window,10}", "app.sources=null")
    validate(text, tmp_path)
    assert container(objects)["image"] == "registry.example/votes:2"
    assert "app" not in mounts_of(objects)
    _, run_args = script_and_run_args(objects)
    assert run_args[6:] == ["votes", "--out", "sink:7002", "--window", "10", "--external", "$(ROO_LISTEN_HOST):5050"]
    assert [p["name"] for p in objects[("Service", "roo")]["spec"]["ports"]] == ["external"]


@pytest.mark.parametrize("set_args, message", [
    # values.schema.json names the value by its path; the templates' own checks say what it is for.
    (["app.run="], "at '/app/run': minLength: got 0, want 1"),
    (["app.run=null"], "at '/app': missing property 'run'"),
    (["--skip-schema-validation", "app.run="], "app.run is required (the app's Python file or module name"),
    (["image.repository="], "at '/image/repository': minLength: got 0, want 1"),
    (["--skip-schema-validation", "image.repository="], "image.repository is required"),
    (["security.tls.enabled=true"], "security.tls.secretName is required when security.tls.enabled is true"),
    (["security.clusterSecret.value=a", "security.clusterSecret.existingSecret=b"],
     "give either security.clusterSecret.value or security.clusterSecret.existingSecret, not both"),
    (["security.externalSecret.existingSecret=b", "security.externalSecret.key="],
     "security.externalSecret.key is required with security.externalSecret.existingSecret"),
    (["app.configMap=a", "app.files.x=y"], "app.files and app.configMap"),
    (["app.sources[0].name=A", "app.sources[0].port=null"], "at '/app/sources/0/port': got null, want integer"),
    (["replicas=0"], "at '/replicas': minimum: got 0, want 1"),
    (["ports.data=70000"], "at '/ports/data': maximum: got 70,000, want 65,535"),
    (["ports.metrics=70000"], "at '/ports/metrics': maximum: got 70,000, want 65,535"),
    (["ports.metrics=-1"], "at '/ports/metrics': minimum: got -1, want 0"),
])
def test_a_missing_or_bad_value_is_named(set_args, message):
    args = ["template", "roo", str(CHART)]
    for item in set_args:
        args += [item] if item.startswith("-") else ["--set", item]
    result = helm(*args, check=False)
    assert result.returncode != 0, f"helm template succeeded with {set_args}"
    assert message in result.stderr, result.stderr


def test_plain_manifests_are_a_fresh_render():
    text, _ = render()
    committed = PLAIN.read_text()
    header, _, body = committed.partition("\n")
    assert header.startswith("# Rendered from deploy/helm/roo")
    assert body == text, f"{PLAIN} is stale: run tools/helm/render"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def expand(value, env):
    """Kubernetes' $(VAR) expansion of command, args and env values."""
    return re.sub(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)", lambda m: env.get(m.group(1), m.group(0)), value)


def http_get(host, port, path):
    """(status, body) of GET http://host:port/path."""
    try:
        with urllib.request.urlopen(f"http://{host}:{port}{path}", timeout=5) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def kubelet_http_probe(worker, kind, pod_ip):
    """What the kubelet does for an httpGet probe: GET the path on the pod's IP at the container port it names;
    success is a status from 200 to 399."""
    action = worker[kind]["httpGet"]
    port = {p["name"]: p["containerPort"] for p in worker["ports"]}[action["port"]]
    status, _ = http_get(pod_ip, port, action["path"])
    return 200 <= status < 400


def make_tls_and_secrets(folder):
    """What the Secrets would hold, laid out as the chart mounts them under /etc/roo (here under `folder`)."""
    tls = folder / "tls"
    tls.mkdir(parents=True)
    def openssl(*args):
        subprocess.run(["openssl", *args], cwd=tls, check=True, capture_output=True, timeout=60)
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
            "-subj", "/CN=test CA")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "tls.key", "-out", "node.csr", "-subj", "/CN=node")
    openssl("x509", "-req", "-in", "node.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-out",
            "tls.crt", "-days", "2")
    for name, key, secret in (("cluster-secret", "clusterSecret", "c1"), ("external-secret", "externalSecret", "e1")):
        (folder / name).mkdir()
        (folder / name / key).write_text(secret + "\n")


@pytest.mark.parametrize("secure", [False, True], ids=["plain", "secrets-and-tls"])
def test_the_rendered_command_line_forms_a_cluster(tmp_path, secure):
    """Two "pods" on the loopback (127.0.0.1 and 127.0.0.2 stand for their DNS names and IPs), started with the
    container's script, arguments and environment as rendered (the mounts of /etc/roo under tmp_path); the startup
    and liveness probes (GET /healthz on the metrics port) and the readiness probe's command pass on both once the
    cluster formed, /readyz answers 200 on both, /api/cluster on each lists both workers, and a shutdown through
    the external channel ends both with status 0."""
    roo = pathlib.Path(os.environ.get("ROO_BIN", REPO / "build" / "src" / "cli" / "roo"))
    if not roo.exists():
        if IN_CI:
            pytest.fail(f"{roo} not found")
        pytest.skip(f"{roo} not found: build roo (tools/setup)")
    control, data, external, metrics, source, sink = (free_port() for _ in range(6))
    extra = []
    if secure:
        make_tls_and_secrets(tmp_path / "etc-roo")
        extra = ["security.clusterSecret.value=x", "security.externalSecret.value=y", "security.tls.enabled=true",
                 "security.tls.secretName=tls"]
    _, objects = render(f"ports.control={control}", f"ports.data={data}", f"ports.external={external}",
                        f"ports.metrics={metrics}",
                        "app.sources[0].name=Alphabet", f"app.sources[0].port={source}",
                        f"app.run={REPO}/examples/alphabet/alphabet.py", f"app.args={{--out,127.0.0.1:{sink}}}", *extra)
    worker = container(objects)
    mounted = lambda text: text.replace("/etc/roo/", f"{tmp_path}/etc-roo/")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "roo").symlink_to(roo)
    processes = []
    try:
        for index, address in enumerate(["127.0.0.1", "127.0.0.2"]):
            env = {entry["name"]: mounted(entry["value"]) for entry in worker["env"] if "value" in entry}
            env.update({"PATH": f"{bin_dir}:/usr/bin:/bin", "POD_NAME": f"roo-{index}", "ROO_SELF": address,
                        "ROO_INITIALIZER": f"127.0.0.1:{control}", "ROO_LISTEN_HOST": address})
            assert ("ROO_CLUSTER_SECRET_FILE" in env) == secure
            argv = [mounted(expand(arg, env)) for arg in worker["command"] + worker["args"]]
            log = open(tmp_path / f"roo-{index}.log", "w")
            processes.append((subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT), env, log))
        def probe(kind, env):
            command = [mounted(arg).replace("127.0.0.1", env["ROO_LISTEN_HOST"])
                       for arg in worker[kind]["exec"]["command"]]
            return subprocess.run(command, env=env, capture_output=True, text=True, timeout=10)
        def alive(kind, env):
            try:
                return kubelet_http_probe(worker, kind, env["ROO_LISTEN_HOST"])
            except OSError:  # not listening yet
                return False
        deadline = time.monotonic() + 20
        for process, env, _ in processes:
            while not alive("startupProbe", env):
                assert process.poll() is None, (tmp_path / f"{env['POD_NAME']}.log").read_text()
                assert time.monotonic() < deadline, f"{env['POD_NAME']} never started"
                time.sleep(0.2)
        for process, env, _ in processes:
            while (probed := probe("readinessProbe", env)).returncode != 0:
                assert process.poll() is None, (tmp_path / f"{env['POD_NAME']}.log").read_text()
                assert time.monotonic() < deadline, f"{env['POD_NAME']} never ready: {probed.stdout}"
                time.sleep(0.2)
            assert alive("livenessProbe", env)
            host = env["ROO_LISTEN_HOST"]
            assert http_get(host, metrics, "/healthz") == (200, "ok\n")
            assert http_get(host, metrics, "/readyz") == (200, "ready\n")
        # Any worker's /api/cluster gathers every worker's sample over the control channel.
        for _, env, _ in processes:
            while True:
                status, body = http_get(env["ROO_LISTEN_HOST"], metrics, "/api/cluster")
                assert status == 200, body
                cluster = json.loads(body)
                if sorted(w["worker"] for w in cluster["workers"]) == ["initializer", "roo-1"]:
                    break
                assert time.monotonic() < deadline, f"{env['POD_NAME']}: /api/cluster {body}"
                time.sleep(0.2)
            assert cluster["missing"] == [], body
        client_flags = []
        if secure:
            tls = tmp_path / "etc-roo" / "tls"
            client_flags = ["--external-secret-file", str(tmp_path / "etc-roo" / "external-secret" / "externalSecret"),
                            "--tls-cert", str(tls / "tls.crt"), "--tls-key", str(tls / "tls.key"),
                            "--tls-ca", str(tls / "ca.crt")]
        status = subprocess.run([str(roo), "ctl", "--external", f"127.0.0.2:{external}", "--type",
                                 "cluster-status-query", "--json", *client_flags], capture_output=True, text=True,
                                timeout=10)
        assert '"worker_names":["initializer","roo-1"]' in status.stdout, status.stderr
        subprocess.run([str(roo), "shutdown", "--external", f"127.0.0.1:{external}", *client_flags], check=True,
                       timeout=20, capture_output=True)
        for process, env, _ in processes:
            assert process.wait(timeout=20) == 0, (tmp_path / f"{env['POD_NAME']}.log").read_text()
        for index in range(2):
            log = (tmp_path / f"roo-{index}.log").read_text()
            # The probes leave no line (a refused or failed connection would).
            assert "refused external connection" not in log and "closing external connection" not in log, log
            if secure:
                assert "no cluster secret" not in log and "no external secret" not in log, log
    finally:
        for process, _, log in processes:
            if process.poll() is None:
                process.kill()
                process.wait()
            log.close()


def test_no_pre_stop_hook_without_shrink_on_stop(tmp_path):
    text, objects = render("scaling.shrinkOnStop=false")
    validate(text, tmp_path)
    assert "lifecycle" not in container(objects)


def test_kubectl_scale_grows_the_running_cluster_and_the_pre_stop_hook_shrinks_it(tmp_path):
    """`kubectl scale --replicas 3` on a chart rendered with 2: pods roo-0 and roo-1 form the cluster, then roo-2
    starts with the same rendered command line and joins the running cluster; its preStop hook (run as the kubelet
    would before the SIGTERM of `kubectl scale --replicas 2`) makes it leave: it exits 0 and the hook returns 0, the
    other two go on as a cluster of two. Pod 0's hook does nothing. Loopback addresses stand for the pods."""
    roo = pathlib.Path(os.environ.get("ROO_BIN", REPO / "build" / "src" / "cli" / "roo"))
    if not roo.exists():
        if IN_CI:
            pytest.fail(f"{roo} not found")
        pytest.skip(f"{roo} not found: build roo (tools/helm/install and tools/setup)")
    control, data, external, metrics, source, sink = (free_port() for _ in range(6))
    _, objects = render(f"ports.control={control}", f"ports.data={data}", f"ports.external={external}",
                        f"ports.metrics={metrics}", "app.sources[0].name=Alphabet", f"app.sources[0].port={source}",
                        f"app.run={REPO}/examples/alphabet/alphabet.py", f"app.args={{--out,127.0.0.1:{sink}}}")
    worker = container(objects)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "roo").symlink_to(roo)
    pods = {}

    def pod_env(index):
        address = f"127.0.0.{index + 1}"
        env = {entry["name"]: entry["value"] for entry in worker["env"] if "value" in entry}
        env.update({"PATH": f"{bin_dir}:/usr/bin:/bin", "POD_NAME": f"roo-{index}", "ROO_SELF": address,
                    "ROO_INITIALIZER": f"127.0.0.1:{control}", "ROO_LISTEN_HOST": address})
        return env

    def start(index):
        env = pod_env(index)
        argv = [expand(arg, env) for arg in worker["command"] + worker["args"]]
        log = open(tmp_path / f"roo-{index}.log", "w")
        pods[index] = (subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT), env, log)

    def in_pod(index, kind_command):
        """Runs a command of the container spec in pod `index` (its 127.0.0.1 is the pod's address)."""
        env = pods[index][1]
        command = [arg.replace("127.0.0.1", env["ROO_LISTEN_HOST"]) for arg in kind_command]
        return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)

    def logs():
        return "\n".join(f"--- roo-{i}\n" + (tmp_path / f"roo-{i}.log").read_text() for i in sorted(pods))

    def status(index):
        answer = subprocess.run([str(roo), "ctl", "--external", f"127.0.0.{index + 1}:{external}", "--type",
                                 "cluster-status-query", "--json"], capture_output=True, text=True, timeout=10)
        return json.loads(answer.stdout) if answer.returncode == 0 else answer.stderr

    def wait_status(index, names):
        expected = {"worker_count": len(names), "worker_names": names, "processing_messages": True}
        deadline = time.monotonic() + 30
        while (answer := status(index)) != expected:
            assert time.monotonic() < deadline, f"roo-{index}: {answer}\n{logs()}"
            time.sleep(0.2)

    try:
        start(0)
        start(1)
        wait_status(0, ["initializer", "roo-1"])
        start(2)  # kubectl scale statefulset roo --replicas 3
        wait_status(0, ["initializer", "roo-1", "roo-2"])
        wait_status(2, ["initializer", "roo-1", "roo-2"])
        pre_stop = worker["lifecycle"]["preStop"]["exec"]["command"]
        hook = in_pod(2, pre_stop)  # kubectl scale statefulset roo --replicas 2
        assert hook.returncode == 0, hook.stdout + hook.stderr + logs()
        assert hook.stdout == "shrinking: roo-2 will leave (1 worker)\n", hook.stdout + logs()
        assert pods[2][0].wait(timeout=20) == 0, logs()
        wait_status(0, ["initializer", "roo-1"])
        assert in_pod(0, pre_stop).returncode == 0  # pod 0 never leaves: its hook does nothing
        wait_status(1, ["initializer", "roo-1"])
        subprocess.run([str(roo), "shutdown", "--external", f"127.0.0.1:{external}"], check=True, timeout=20,
                       capture_output=True)
        for index in (0, 1):
            assert pods[index][0].wait(timeout=20) == 0, logs()
    finally:
        for process, _, log in pods.values():
            if process.poll() is None:
                process.kill()
                process.wait()
            log.close()
