#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# The main job without Xen: cokeeperd on the simulated hypervisor, three cokeeper-agent
# processes over the Unix transport, and a scripted churn of creates, destroys and a live
# migration, with changes and each guest's acknowledgement shown as they happen.  The same
# binaries run on Xen (tests/lab/run.sh).  Set DEMO_PAUSE=0 to run it without pauses.
set -euo pipefail
cd "$(dirname "$0")/.."

pause=${DEMO_PAUSE:-1}
bold() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

bold "setting up (dependencies, build)"
scripts/install-deps.sh >/dev/null
[ -f build/build.ninja ] || meson setup build >/dev/null
ninja -C build >/dev/null

work=$(mktemp -d)
pids=()
cleanup() {
	for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
	wait 2>/dev/null || true
	rm -rf "$work"
}
trap cleanup EXIT INT TERM

ctl() { build/tools/cokeeperctl --control "$work/control.sock" "$@"; }
nap() { sleep "$(awk -v p="$pause" -v s="$1" 'BEGIN { print p * s }')"; }

bold "cokeeperd --source sim, and three agents (domids 1, 2, 3)"
build/cokeeperd/cokeeperd --source sim --control "$work/control.sock" \
	--agent-socket "$work/agent.sock" --address-state "$work/addresses" 2>"$work/cokeeperd.log" &
pids+=($!)
# Until it answers: its socket's file exists from bind(), before it listens.
for _ in $(seq 200); do ctl stats >/dev/null 2>&1 && break; sleep 0.05; done
for i in 1 2 3; do
	build/guest-agent/cokeeper-agent --transport unix --socket "$work/agent.sock" \
		--domid "$i" --sink memory --dump "$work/agent$i.json" 2>"$work/agent$i.log" &
	pids+=($!)
done
sleep 0.3

bold "live: cokeeperctl watch (a line per change, a line per guest acknowledgement)"
ctl watch | sed -u 's/^/  | /' &
pids+=($!)
sleep 0.3

bold "creating three guests"
ctl sim create web --ip 10.99.0.1 --mac 00:16:3e:00:00:01 >/dev/null; nap 0.7
ctl sim create db --ip 10.99.0.2 --ip fd00::2 --mac 00:16:3e:00:00:02 >/dev/null; nap 0.7
ctl sim create cache --ip 10.99.0.3 --mac 00:16:3e:00:00:03 >/dev/null; nap 1
bold "cokeeperctl members"
ctl members; nap 1.5

bold "live-migrating web on this host (suspend: migrating-out, then a new domid)"
domid_of() {
	ctl --json members | python3 -c 'import json,sys
print(next((m["domid"] for m in json.load(sys.stdin) if m["name"] == sys.argv[1]), ""))' "$1"
}
old=$(domid_of web)
ctl sim migrate web --pause-ms 300 >/dev/null
# The migration ends on its own 300 ms later, pauses or not (DEMO_PAUSE=0): web's new domid.
for _ in $(seq 50); do [ "$(domid_of web)" = "$old" ] || break; sleep 0.1; done
nap 1.5
bold "destroying db"
ctl sim destroy db >/dev/null; nap 1
bold "a burst: five guests created at once"
for n in 1 2 3 4 5; do ctl sim create "batch$n" --ip "10.99.1.$n" >/dev/null; done; nap 1
bold "app: no ip= from the toolstack; it claims 10.99.2.9 itself, the orchestrator sets 10.99.2.7"
ctl sim create app >/dev/null
ctl sim claim app --ip 10.99.2.9 >/dev/null
ctl addresses set app 10.99.2.7 >/dev/null; nap 1
bold "cokeeperctl addresses app (the claim is shown, not used)"
ctl addresses app

bold "cokeeperctl members"
ctl members
bold "cokeeperctl guests (each agent's acknowledged generation and last latency)"
ctl guests
bold "cokeeperctl stats"
ctl stats

bold "checking every agent's table against what cokeeperd lets it see"
# An agent sees the members on its bridge (fastpath.conf(5): all of them here) if its domid
# is a member itself, and nothing if not (web's old domid, after the migration).
want=$(ctl --json members)
gen=$(ctl --json stats | python3 -c 'import json,sys; print(json.load(sys.stdin)["gen"])')
ok=0
for i in 1 2 3; do
	if python3 -c 'import json,sys
d = json.load(open(sys.argv[1])); members = json.loads(sys.argv[2]); domid = int(sys.argv[4])
view = members if any(m["domid"] == domid for m in members) else []
sys.exit(d["gen"] != int(sys.argv[3]) or d["members"] != view)' \
		"$work/agent$i.json" "$want" "$gen" "$i"; then
		echo "  agent $i: its view at gen $gen ($(python3 -c 'import json,sys
print(len(json.load(open(sys.argv[1]))["members"]))' "$work/agent$i.json") members)"
		ok=$((ok + 1))
	else
		echo "  agent $i: DIFFERS from cokeeperd (see $work/agent$i.json)"
	fi
done
[ "$ok" -eq 3 ] || { echo "demo: agents disagree with cokeeperd" >&2; exit 1; }
echo
echo "demo: done; every agent holds its view of cokeeperd's membership (gen $gen)."
