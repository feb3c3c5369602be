#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0-only
"""cokeeper-query metrics' text (tools/query-metrics.c over a stub client: no kernel module
needed), read by a strict OpenMetrics parser and by the Prometheus text rules node_exporter
keeps; the values are the stub's.

    query-metrics.py QUERY_METRICS_STUB
"""
import os
import subprocess
import sys

sys.dont_write_bytecode = True    # no __pycache__ in the source tree
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "harness"))
from metrics_text import parse_openmetrics, parse_prometheus, value  # noqa: E402


def check(families, counter_suffix):
    want = [
        ("cokeeper_table_generation", None, {}, 42),
        ("cokeeper_table_members", None, {}, 2),
        ("cokeeper_table_max_entries", None, {}, 4096),
        ("cokeeper_peer_tx_packets", "_total", {"domid": "7", "name": "web"}, 100),
        ("cokeeper_peer_tx_packets", "_total", {"domid": "8", "name": 'a"b\\c'}, 101),
        ("cokeeper_peer_tx_bytes", "_total", {"domid": "8", "name": 'a"b\\c'}, 150001),
        ("cokeeper_fastpath_peer_tx_packets", "_total", {"domid": "7"}, 5),
        ("cokeeper_fastpath_peer_rx_packets", "_total", {"domid": "7"}, 6),
    ]
    for family, suffix, labels, v in want:
        fam = family + (counter_suffix if suffix else "")
        got = value(families, fam, family + (suffix or ""), **labels)
        if got != v:
            raise ValueError(f"{family}{suffix or ''}{labels}: {got}, not {v}")


def main(stub):
    failed = 0
    for fmt in ("openmetrics", "prometheus"):
        text = subprocess.run([stub, fmt], capture_output=True, text=True, check=True,
                              timeout=60).stdout
        try:
            if fmt == "openmetrics":
                families = parse_openmetrics(text)
                check(families, "")
                if families["cokeeper_table"].type != "info" or \
                        families["cokeeper_peer_tx_bytes"].unit != "bytes" or \
                        families["cokeeper_peer_tx_packets"].type != "counter":
                    raise ValueError("types or units")
                value(families, "cokeeper_table", "cokeeper_table_info",
                      epoch="fedcba9876543210")
            else:
                families = parse_prometheus(text)
                check(families, "")
                if families["cokeeper_peer_tx_packets"].type != "counter":
                    raise ValueError("tx_packets is no counter")
            print(f"PASS cokeeper-query metrics --format {fmt}")
        except (ValueError, KeyError) as e:
            failed += 1
            print(f"FAIL cokeeper-query metrics --format {fmt}: {e}\n{text}")
    print(f"{2 - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
