"""How operators watch the release from outside: /metrics (a Prometheus collector reading
PostgreSQL at scrape time), the health probes (django-health-check), and the dead man's
switch of the scheduled task (check-ins). The alert rules are in deploy/prometheus/."""
