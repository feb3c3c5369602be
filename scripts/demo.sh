#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The main job without Xen: cokeeperd on the simulated hypervisor, a few agents over the Unix
# transport, membership changes converging live on screen.
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh >/dev/null
[ -f build/build.ninja ] || meson setup build >/dev/null
ninja -C build >/dev/null

if [ ! -x build/cokeeperd/cokeeperd ] || [ ! -x build/guest-agent/cokeeper-agent ]; then
	echo "demo: cokeeperd and cokeeper-agent are not built yet; this tree has the core" >&2
	echo "      library and its tests only (scripts/test.sh).  Nothing to show." >&2
	exit 1
fi
