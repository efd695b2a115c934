"""End to end with real parts: gunicorn serving the app with DEBUG off (the compose web
command) and a real Prometheus server (Debian's package) scraping /metrics with the bearer
token from a file, with the shipped scrape job and alert rules.

- After a good run, Prometheus' HTTP API returns the run's end as the last-success timestamp
  and zero overdue lots.
- After a missed day (matured lots, no run), the overdue-lots series is positive, Prometheus
  holds the overdue alert pending, and `promtool test rules` shows that the alert fires once
  those very series have stayed so for 30 minutes.
"""

import json
import shutil
import subprocess
import urllib.parse
import urllib.request
from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from vaults.models import ReleaseRun, ReleaseTrigger
from vaults.services.release import release_matured_lots, utc_today
from vaults.tests.factories import DepositFactory
from vaults.tests.support.concurrency import wait_for
from vaults.tests.support.production import free_port
from vaults.tests.support.stack import ROOT, running

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

PROMETHEUS_DIR = ROOT / "deploy" / "prometheus"
PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"


class PrometheusServer:
    def __init__(self, base: str) -> None:
        self.base = base

    def api(self, path: str, **params: str) -> dict:
        url = f"{self.base}/api/v1/{path}?{urllib.parse.urlencode(params)}"
        with urllib.request.urlopen(url, timeout=5) as response:
            body = json.load(response)
        assert body["status"] == "success", body
        return body["data"]

    def query(self, expr: str) -> list[dict]:
        return self.api("query", query=expr)["result"]

    def value(self, expr: str) -> float | None:
        result = self.query(expr)
        return float(result[0]["value"][1]) if result else None

    def ready(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.base}/-/ready", timeout=2) as response:
                return response.status == 200
        except OSError:
            return False


def prometheus_config(tmp: Path, target: str, token: str) -> Path:
    """The shipped scrape job and rules, pointed at this gunicorn, scraping every second."""
    config = yaml.safe_load((PROMETHEUS_DIR / "prometheus.yml").read_text())
    config["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
    shutil.copytree(PROMETHEUS_DIR / "rules", tmp / "rules")
    config["rule_files"] = [str(tmp / "rules" / "*.yml")]
    [job] = config["scrape_configs"]
    (tmp / "metrics_token").write_text(token)
    job["authorization"]["credentials_file"] = str(tmp / "metrics_token")
    job["scrape_timeout"] = "1s"
    job["static_configs"] = [{"targets": [target]}]
    path = tmp / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_prometheus_scrapes_the_release_metrics_and_the_overdue_alert_fires(web, avenir, tmp_path):
    today = utc_today()
    target = web.base.removeprefix("http://")
    port = free_port()
    argv = [
        PROMETHEUS,
        f"--config.file={prometheus_config(tmp_path, target, web.metrics_token)}",
        f"--storage.tsdb.path={tmp_path / 'data'}",
        f"--web.listen-address=127.0.0.1:{port}",
    ]
    with running(argv, env={"PATH": "/usr/bin:/bin", "TZ": "UTC"}, log_path=tmp_path / "prometheus.log"):
        prom = PrometheusServer(f"http://127.0.0.1:{port}")
        wait_for(prom.ready, timeout=60, what="Prometheus to start")
        wait_for(lambda: prom.value('up{job="avenir"}') == 1, timeout=60, what="Prometheus to scrape /metrics")

        # A good run: its end is the last success, nothing is overdue.
        DepositFactory(release_day=today - timedelta(days=1))
        DepositFactory(release_day=today)
        summary = release_matured_lots(trigger=ReleaseTrigger.SCHEDULE, actor="celery:e2e")
        finished = ReleaseRun.objects.get(trace_id=summary.trace_id).finished_at.timestamp()
        last_success = 'avenir_release_last_success_timestamp_seconds{currency="AED",job="avenir"}'
        seen = wait_for(
            lambda: (value := prom.value(last_success)) is not None and abs(value - finished) < 1e-3,
            timeout=30,
            what="Prometheus to scrape the run's end",
        )
        assert seen
        assert prom.value('avenir_release_overdue_lots{currency="AED"}') == 0
        assert prom.value('avenir_release_lots_released_total{currency="AED"}') == 2

        # A missed day: lots matured yesterday, no run released them.
        DepositFactory(release_day=today - timedelta(days=1))
        DepositFactory(release_day=today - timedelta(days=1))
        wait_for(
            lambda: prom.value('avenir_release_overdue_lots{currency="AED"}') == 2,
            timeout=30,
            what="Prometheus to scrape the overdue lots",
        )
        [overdue] = prom.query('avenir_release_overdue_lots{currency="AED"}')
        assert prom.value('avenir_release_overdue_amount{currency="AED"}') == 20000.0

        # The real server evaluates the shipped rule: pending (for 30m), not yet firing.
        pending = wait_for(
            lambda: [a for a in prom.api("alerts")["alerts"] if a["labels"]["alertname"] == "AvenirOverdueLots"],
            timeout=30,
            what="the overdue alert to be pending",
        )
        assert [a["state"] for a in pending] == ["pending"]

    # promtool, on those very series held for 31 minutes: the alert fires.
    fired = promtool_overdue_test(tmp_path, overdue["metric"], float(overdue["value"][1]))
    assert fired.returncode == 0, fired.stdout + fired.stderr
    assert "SUCCESS" in fired.stdout


def promtool_overdue_test(tmp: Path, series_labels: dict[str, str], value: float) -> subprocess.CompletedProcess:
    rules = {
        r["alert"]: r
        for g in yaml.safe_load((tmp / "rules" / "avenir.rules.yml").read_text())["groups"]
        for r in g["rules"]
    }
    rule = rules["AvenirOverdueLots"]
    labels = {k: v for k, v in series_labels.items() if k != "__name__"}
    selector = "{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"
    annotations = {
        key: text.replace("{{ $labels.currency }}", labels["currency"]) for key, text in rule["annotations"].items()
    }
    test = {
        "rule_files": [str(tmp / "rules" / "avenir.rules.yml")],
        "evaluation_interval": "1m",
        "tests": [
            {
                "interval": "1m",
                "input_series": [{"series": f"{series_labels['__name__']}{selector}", "values": f"{value:g}+0x40"}],
                "alert_rule_test": [
                    {"eval_time": "29m", "alertname": "AvenirOverdueLots", "exp_alerts": []},
                    {
                        "eval_time": "31m",
                        "alertname": "AvenirOverdueLots",
                        "exp_alerts": [{"exp_labels": {**labels, **rule["labels"]}, "exp_annotations": annotations}],
                    },
                ],
            }
        ],
    }
    path = tmp / "observed.test.yml"
    path.write_text(yaml.safe_dump(test))
    return subprocess.run([PROMTOOL, "test", "rules", str(path)], capture_output=True, text=True, timeout=60)
