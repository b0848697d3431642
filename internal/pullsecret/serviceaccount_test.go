package pullsecret

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/regcred/regcred/api/v1alpha1"
)

func sa(record string, names ...string) *corev1.ServiceAccount {
	s := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}
	if record != "" {
		s.Annotations = map[string]string{v1alpha1.AnnotationAddedPullSecrets: record}
	}
	for _, n := range names {
		s.ImagePullSecrets = append(s.ImagePullSecrets, corev1.LocalObjectReference{Name: n})
	}
	return s
}

func TestReference(t *testing.T) {
	cases := []struct {
		name       string
		sa         *corev1.ServiceAccount
		cps, sec   string
		want       bool
		noChange   bool
		wantList   []string
		wantRecord string
	}{
		{name: "added after the others", sa: sa("", "a", "b"), cps: "c", sec: "s", want: true, wantList: []string{"a", "b", "s"}, wantRecord: `{"c":"s"}`},
		{name: "already recorded and present", sa: sa(`{"c":"s"}`, "a", "s"), cps: "c", sec: "s", want: true, noChange: true},
		{name: "present by hand is not recorded", sa: sa("", "s", "a"), cps: "c", sec: "s", want: true, noChange: true},
		{name: "recorded but removed by hand comes back", sa: sa(`{"c":"s"}`, "a"), cps: "c", sec: "s", want: true, wantList: []string{"a", "s"}, wantRecord: `{"c":"s"}`},
		{name: "removal keeps order of others", sa: sa(`{"c":"s"}`, "a", "s", "b"), cps: "c", sec: "s", want: false, wantList: []string{"a", "b"}},
		{name: "removal of an unrecorded entry does nothing", sa: sa("", "a", "s"), cps: "c", sec: "s", want: false, noChange: true},
		{name: "renamed secret", sa: sa(`{"c":"old"}`, "old", "a"), cps: "c", sec: "new", want: true, wantList: []string{"a", "new"}, wantRecord: `{"c":"new"}`},
		{name: "another ClusterPullSecret's record survives", sa: sa(`{"c":"s","d":"t"}`, "s", "t"), cps: "c", sec: "s", want: false, wantList: []string{"t"}, wantRecord: `{"d":"t"}`},
		{name: "shared name kept while another records it", sa: sa(`{"c":"s","d":"s"}`, "s"), cps: "c", sec: "s", want: false, wantList: []string{"s"}, wantRecord: `{"d":"s"}`},
		{name: "malformed record counts as none", sa: sa(`not json`, "s"), cps: "c", sec: "s", want: false, noChange: true},
		{name: "last entry removed empties the list", sa: sa(`{"c":"s"}`, "s"), cps: "c", sec: "s", want: false, wantList: nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := slices.Clone(tc.sa.ImagePullSecrets)
			got := Reference(tc.sa, tc.cps, tc.sec, tc.want)
			if !slices.Equal(before, tc.sa.ImagePullSecrets) {
				t.Fatal("Reference changed its input")
			}
			if tc.noChange {
				if got != nil {
					t.Fatalf("Reference = %+v, want no change", got)
				}
				return
			}
			if got == nil {
				t.Fatal("Reference = nil, want a change")
			}
			var names []string
			for _, r := range got.ImagePullSecrets {
				names = append(names, r.Name)
			}
			if !slices.Equal(names, tc.wantList) {
				t.Errorf("list = %v, want %v", names, tc.wantList)
			}
			if got.Annotation != tc.wantRecord {
				t.Errorf("record = %q, want %q", got.Annotation, tc.wantRecord)
			}
		})
	}
}

// FuzzReference: whatever the annotation and list hold, Reference never drops an
// entry it did not record, adds at most the one name, and its record parses.
func FuzzReference(f *testing.F) {
	f.Add(`{"c":"s"}`, "a,s", "c", "s", true)
	f.Add(`{"c":"s","d":"s"}`, "s", "c", "s", false)
	f.Add(`[]`, "", "c", "s", true)
	f.Fuzz(func(t *testing.T, record, list, cps, sec string, want bool) {
		if cps == "" || sec == "" {
			return
		}
		names := strings.Split(list, ",")
		if list == "" {
			names = nil
		}
		in := sa(record, names...)
		added := Added(in)
		c := Reference(in, cps, sec, want)
		if c == nil {
			return
		}
		if c.Annotation != "" {
			var m map[string]string
			if err := json.Unmarshal([]byte(c.Annotation), &m); err != nil {
				t.Fatalf("record %q does not parse: %v", c.Annotation, err)
			}
		}
		var out []string
		for _, r := range c.ImagePullSecrets {
			out = append(out, r.Name)
		}
		for _, n := range names {
			if !slices.Contains(out, n) && added[cps] != n {
				t.Fatalf("entry %q dropped though regcred did not record it (record %v)", n, added)
			}
		}
		for _, n := range out {
			if !slices.Contains(names, n) && n != sec {
				t.Fatalf("entry %q appeared", n)
			}
		}
	})
}
