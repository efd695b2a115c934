"""Reading /metrics the way Prometheus does: the text format, parsed by prometheus-client's parser."""

from prometheus_client.parser import text_string_to_metric_families

METRICS_TOKEN = "test-metrics-token-0123456789-abcdefghijklmnop"  # 32+ characters, as settings require


def parse_metrics(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """{(sample name, sorted labels): value} of every sample in a scrape."""
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def sample(samples: dict, name: str, **labels: str) -> float:
    return samples[name, tuple(sorted(labels.items()))]


def families(text: str) -> dict[str, str]:
    """{family name: type}, as the scrape declares them (# TYPE)."""
    return {family.name: family.type for family in text_string_to_metric_families(text)}
