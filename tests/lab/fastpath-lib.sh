# SPDX-License-Identifier: GPL-2.0-only
# shellcheck shell=bash
# The fast path's helpers, sourced by its scenarios after scenario-lib.sh, in dom0, with
# GUESTS set: guests named by kind and number (pv1, pvh3): 10.99.0.N, 00:16:3e:00:00:0N.

ip_of() { echo "10.99.0.${1##*[!0-9]}"; }
mac_of() { echo "00:16:3e:00:00:0${1##*[!0-9]}"; }
type_of() { case $1 in pvh*) echo pvh ;; *) echo pv ;; esac; }
fp_loaded() { [ -n "$(guest_key "$1" ck-fp)" ]; }
# fp_field NAME PEER_DOMID COLUMN: a column of NAME's `cokeeper-query fastpath` line for
# that peer: 2 state, 3 tx_packets, 5 rx_packets, 10 broken, 11 setups, 12 teardowns.
fp_field() {
	# guest_run joins the output's lines with spaces: one word comes back as "word ".
	guest_run "$1" "cokeeper-query fastpath | awk '\$1 == $2 { print \$$3 }'" | tr -d ' '
}
fp_state_is() { [ "$(fp_field "$1" "$2" 2)" = "$3" ]; }
fp_not_up() { ! fp_state_is "$1" "$2" up; }
# fp_up_with_ping NAME PEER_NAME PEER_DOMID: channels are set up on demand, by the lower
# domid, on traffic to the peer; one ping asks for it.  True once NAME's channel is up.
fp_up_with_ping() { guest_run "$1" "ping -c 1 -W 1 $(ip_of "$2")" >/dev/null; fp_state_is "$1" "$3" up; }
# fp_tx_above NAME PEER_DOMID N: NAME's ring to that peer has carried more than N frames.
fp_tx_above() { [ "$(fp_field "$1" "$2" 3)" -gt "$3" ] 2>/dev/null; }
fp_enable() { guest_run "$1" "echo $2 >/sys/module/cokeeper_fp/parameters/enable"; }

# lookup NAME ADDR: NAME's `cokeeper-query lookup ADDR` as one line, and its exit status.
lookup() { guest_run "$1" "cokeeper-query lookup $2"; }
# owner_is NAME ADDR DOMID [SOURCE]: NAME's table has ADDR as DOMID's (from SOURCE).
owner_is() {
	local _out
	_out=$(lookup "$1" "$2") || return 1
	case $_out in *"domid $3 ("*) ;; *) return 1 ;; esac
	[ -z "${4:-}" ] || case $_out in *"$4"*) ;; *) return 1 ;; esac
}
# nobody_has NAME ADDR: NAME's table has no member with ADDR (lookup exits 1).
nobody_has() { lookup "$1" "$2" >/dev/null; [ $? = 1 ]; }

# median FILE COLUMN
median() { awk -v c="$2" '{ print $c }' "$1" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "?" }'; }

# members NAME: the domids in NAME's own table, space-separated (the awk runs in the guest:
# what guest_run brings back is one line).
members() { guest_run "$1" "cokeeper-query members | awk '\$1 ~ /^[0-9]+\$/ { printf \"%s \", \$1 }'"; }
sees() { case " $(members "$1")" in *" $2 "*) return 0 ;; esac; return 1; }
sees_not() { ! sees "$1" "$2"; }

