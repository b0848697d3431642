package cluster

import "testing"

// clean is iptables-save on a machine the cluster has not touched.
const clean = `*mangle
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
-A INPUT -i lo -j ACCEPT
COMMIT
`

// withKubelet is the same machine with a kubelet v1.37 and the harness running, as
// iptables-save printed it here.
const withKubelet = `*mangle
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:KUBE-IPTABLES-HINT - [0:0]
:KUBE-KUBELET-CANARY - [0:0]
COMMIT
*filter
:INPUT ACCEPT [0:0]
:FORWARD ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:KUBE-FIREWALL - [0:0]
:KUBE-KUBELET-CANARY - [0:0]
-A INPUT -i lo -j ACCEPT
-A INPUT -j KUBE-FIREWALL
-A FORWARD -i regcred0 ! -o regcred0 -j DROP
-A FORWARD -i docker0 -j ACCEPT
-A OUTPUT -j KUBE-FIREWALL
-A KUBE-FIREWALL ! -s 127.0.0.0/8 -d 127.0.0.0/8 -m comment --comment "block incoming localnet connections" -m conntrack ! --ctstate RELATED,ESTABLISHED,DNAT -j DROP
COMMIT
*nat
:PREROUTING ACCEPT [0:0]
:INPUT ACCEPT [0:0]
:OUTPUT ACCEPT [0:0]
:POSTROUTING ACCEPT [0:0]
:KUBE-KUBELET-CANARY - [0:0]
COMMIT
`

func TestRulesAdded(t *testing.T) {
	for _, tc := range []struct {
		name, before, now string
		want              string
	}{
		{"nothing changed", clean, clean, ""},
		{"the kubelet's chains and jumps and the harness's drop, not another program's rule", clean, withKubelet, `*mangle
-F KUBE-IPTABLES-HINT
-F KUBE-KUBELET-CANARY
-X KUBE-IPTABLES-HINT
-X KUBE-KUBELET-CANARY
COMMIT
*filter
-D INPUT -j KUBE-FIREWALL
-D FORWARD -i regcred0 ! -o regcred0 -j DROP
-D OUTPUT -j KUBE-FIREWALL
-F KUBE-FIREWALL
-F KUBE-KUBELET-CANARY
-X KUBE-FIREWALL
-X KUBE-KUBELET-CANARY
COMMIT
*nat
-F KUBE-KUBELET-CANARY
-X KUBE-KUBELET-CANARY
COMMIT
`},
		{"chains that were there before the cluster stay", withKubelet, withKubelet, ""},
		{"a table the cluster never touched is left out", clean, clean + "*raw\n:PREROUTING ACCEPT [0:0]\n-A PREROUTING -j NOTRACK\nCOMMIT\n", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := rulesAdded(tc.before, tc.now, []string{"regcred0"}); got != tc.want {
				t.Errorf("rulesAdded =\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}
