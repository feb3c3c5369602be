# SPDX-License-Identifier: GPL-2.0-only
"""The metrics text of cokeeperctl metrics and cokeeper-query metrics, read by real parsers:
OpenMetrics by prometheus_client's strict parser, the Prometheus text (what node_exporter's
textfile collector reads) by its text parser and by the rule that parser keeps and
prometheus_client's does not: a sample belongs to the family whose TYPE line came last, by
that very name (a histogram's with _bucket, _count or _sum).

python3-prometheus-client is a test dependency (scripts/install-deps.sh); a Python of its
own (pyenv's) finds Debian's copy in dist-packages, which is pure Python.
"""
import re
import sys

try:
    import prometheus_client  # noqa: F401
except ImportError:
    sys.path.append("/usr/lib/python3/dist-packages")
try:
    from prometheus_client.openmetrics.parser import \
        text_string_to_metric_families as _openmetrics_families
    from prometheus_client.parser import text_string_to_metric_families as _prometheus_families
except ImportError as e:
    raise SystemExit(f"FAIL: no prometheus_client ({e}): run scripts/install-deps.sh "
                     "(python3-prometheus-client)")


def parse_openmetrics(text):
    """{family name: Metric}, or ValueError from the strict parser."""
    return {f.name: f for f in _openmetrics_families(text)}


def parse_prometheus(text):
    """{family name: Metric} of the Prometheus text format 0.0.4, or ValueError."""
    if "# EOF" in text or "# UNIT" in text:
        raise ValueError("OpenMetrics lines in the Prometheus text")
    family, typ = None, None
    for line in text.splitlines():
        m = re.match(r"# TYPE (\S+) (\S+)$", line)
        if m:
            family, typ = m.groups()
            continue
        if not line or line.startswith("#"):
            continue
        name = re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", line).group(0)
        own = [family] + ([family + s for s in ("_bucket", "_count", "_sum")]
                          if typ == "histogram" else [])
        if name not in own:
            raise ValueError(f"{name} after # TYPE {family} {typ}: a family of its own, "
                             "untyped, to node_exporter")
    return {f.name: f for f in _prometheus_families(text)}


def value(families, family, sample=None, **labels):
    """The one sample of family named sample (default: the family's own) with labels."""
    want = sample or family
    got = [s.value for s in families[family].samples
           if s.name == want and all(s.labels.get(k) == v for k, v in labels.items())]
    if len(got) != 1:
        raise ValueError(f"{want}{labels}: {len(got)} samples")
    return got[0]
