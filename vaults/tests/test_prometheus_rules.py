"""The alert rules shipped in deploy/prometheus/: `promtool test rules` passes, every alert is
tested both firing and not firing, each annotation says what to do and links to an existing
section of docs/operators.md, and the shipped scrape config is valid Prometheus configuration."""

import re
import shutil
import subprocess

import yaml

from vaults.tests.support.stack import ROOT

PROMETHEUS = ROOT / "deploy" / "prometheus"
RULES = PROMETHEUS / "rules" / "avenir.rules.yml"
TESTS = sorted((PROMETHEUS / "tests").glob("*.yml"))
# Debian's prometheus package (scripts/test.sh installs it).
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"


def alerts() -> dict[str, dict]:
    return {rule["alert"]: rule for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]}


def github_anchor(heading: str) -> str:
    """The anchor GitHub gives a Markdown heading."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def test_promtool_unit_tests_pass():
    assert TESTS
    done = subprocess.run([PROMTOOL, "test", "rules", *map(str, TESTS)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    checked = subprocess.run([PROMTOOL, "check", "rules", str(RULES)], capture_output=True, text=True, timeout=60)
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_every_alert_is_tested_firing_and_not_firing():
    firing: set[str] = set()
    quiet: set[str] = set()
    for path in TESTS:
        for test in yaml.safe_load(path.read_text())["tests"]:
            for case in test.get("alert_rule_test", []):
                (firing if case.get("exp_alerts") else quiet).add(case["alertname"])
    assert set(alerts()) == firing == quiet


def test_every_alert_says_what_to_do_and_links_to_the_operators_guide():
    operators = (ROOT / "docs" / "operators.md").read_text()
    anchors = {github_anchor(h) for h in re.findall(r"^#+ (.+)$", operators, re.M)}
    for name, rule in alerts().items():
        annotations = rule["annotations"]
        assert annotations["summary"] and len(annotations["description"]) > 60, name
        assert "manage.py" in annotations["description"] or "Check" in annotations["description"], name
        page, _, anchor = annotations["runbook_url"].partition("#")
        assert page == "docs/operators.md" and anchor == name.lower(), name
        assert anchor in anchors, f"{name}: no section #{anchor} in docs/operators.md"
        assert rule["labels"]["severity"] in ("critical", "warning"), name


def test_the_shipped_scrape_config_is_valid(tmp_path):
    """As compose mounts it: the rules beside it, the token in a file."""
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    [job] = config["scrape_configs"]
    assert job["job_name"] == "avenir" and job["metrics_path"] == "/metrics"
    assert job["authorization"] == {"type": "Bearer", "credentials_file": "/run/secrets/metrics_token"}
    assert config["rule_files"] == ["/etc/prometheus/rules/*.yml"]
    token = tmp_path / "metrics_token"
    token.write_text("a-token")
    shutil.copytree(PROMETHEUS / "rules", tmp_path / "rules")
    job["authorization"]["credentials_file"] = str(token)
    config["rule_files"] = [str(tmp_path / "rules" / "*.yml")]
    local = tmp_path / "prometheus.yml"
    local.write_text(yaml.safe_dump(config))
    done = subprocess.run([PROMTOOL, "check", "config", str(local)], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "9 rules found" in done.stdout
